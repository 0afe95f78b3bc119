"""The kernel forcing that CI's portability run relies on (.ci/run runs the tests and every notebook
a second time with ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA set to an older instruction set): torch
honours it, and it changes a float32 network's last bits without changing its result."""
import json
import os
import subprocess
import sys

import numpy as np
import torch

_PROBE = """
import json, torch
torch.set_num_threads(1)
import ddpm_edu
model = ddpm_edu.load_pretrained("mnist")
x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
eps = model.eps(x, 500)
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(),
                  "eps": eps.flatten().tolist()}))
"""


def _probe(capability: str | None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
    }
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_this_process_runs_the_kernels_it_was_told_to():
    forced = os.environ.get("ATEN_CPU_CAPABILITY")
    if forced:  # CI's portability run: the forcing must not be a silent no-op
        assert torch.backends.cpu.get_cpu_capability() == forced.upper()
    assert _probe("default")["capability"] == "DEFAULT"


def test_older_kernels_change_the_last_bits_not_the_result():
    native, scalar = _probe(None), _probe("default")
    a, b = np.array(native["eps"]), np.array(scalar["eps"])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)  # float32 kernels: same ε̂ to ~1e-6
    if native["capability"] != "DEFAULT":
        assert (a != b).any(), "expected the vectorised kernels to differ from the scalar ones"
