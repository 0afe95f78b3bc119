"""One rank of tests/test_training_budget.py's DDP check (RANK, WORLD_SIZE, MASTER_* from the
test): train the "tiny" recipe for a few steps on a fixed set of images, save what came out."""
import sys

import torch


def run_tiny() -> dict:
    """A few steps of the tiny U-Net (dropout 0) on fixed random digits; a data-parallel run when
    the torchrun variables are set."""
    from ddpm_edu.recipes import get_recipe
    from ddpm_edu.training import train
    recipe = get_recipe("tiny").with_train(steps=4, batch_size=8, warmup_steps=2, threads=1)
    images = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    result = train(recipe.build_network(), recipe.build_schedule(), images, recipe.train,
                   progress=False)
    return {"history": result.loss_history, "net": result.net.state_dict(),
            "ema": result.ema_net.state_dict()}


if __name__ == "__main__":
    from ddpm_edu.distributed import shutdown
    out = run_tiny()
    torch.save(out, sys.argv[1])
    shutdown()
