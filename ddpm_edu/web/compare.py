"""Does 8-bit quantization hurt the samples? The model versions of an exported page, side by side.

Each ONNX file of the site (fp32, int8, int8-dynamic) drives the library's DDIM sampler
(:func:`ddpm_edu.sampling.sample`) from the same noise, through the Python onnxruntime package
(the same graph and kernels as the page's wasm runtime; the browser test shows the page equals
PyTorch to ~1e-4). The samples are judged by the project's digit classifier
(:func:`ddpm_edu.quality.sample_quality`), and each 8-bit version is compared with fp32 image by
image: how often the classifier gives it the same digit, and how far its pixels move.

    python -m ddpm_edu.web.compare site --n 1000 --steps 50
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ..errors import MissingFile, UserError

__all__ = ["onnx_model", "compare_precisions", "main"]


def onnx_model(path, threads: int = 1):
    """``model(x_t, t) -> output`` (torch tensors, float32) running the ONNX file ``path``."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("comparing model versions needs the Python onnxruntime package: "
                        "pip install -e \".[web]\".") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = session.run(["out"], {"x": x.detach().float().numpy(), "t": t.long().numpy()})[0]
        return torch.from_numpy(out)

    return model


def compare_precisions(site_dir, n: int = 1000, steps: int = 50, seed: int = 0, batch_size: int = 250,
                       classifier=None, threads: int = 1) -> dict:
    """Sample ``n`` images with each model version of ``site_dir`` (DDIM, η = 0, ``steps`` steps,
    the same x_T from ``seed``) and judge them. Returns a JSON-able dict per version: file bytes,
    seconds of sampling, the :class:`~ddpm_edu.quality.QualityReport` as a dict, and for the 8-bit
    versions ``same_digit_as_fp32`` (share of images classified as the same digit as the fp32
    image from the same noise) and ``pixel_diff`` (mean and max |Δ| in 0..255 pixel units)."""
    from ..pixels import to_pixels
    from ..quality import classifier_outputs, sample_quality
    from ..sampling import sample
    from ..schedules import schedule_from_config

    site_dir = Path(site_dir)
    manifest_file = site_dir / "manifest.json"
    if not manifest_file.is_file():
        raise MissingFile(f"{site_dir} has no manifest.json; export a page first: "
                                f"ddpm-edu export-web --checkpoint mnist --out {site_dir}")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    schedule = schedule_from_config(manifest["schedule"]["config"])
    shape = tuple(manifest["image"]["shape"])
    report, fp32 = {}, None
    for name, spec in manifest["models"].items():
        model = onnx_model(site_dir / spec["file"], threads)
        start = time.perf_counter()
        x = sample(model, schedule, n, shape, sampler="ddim", steps=steps, eta=0.0, seed=seed,
                   batch_size=batch_size, mean_type=manifest["mean_type"], progress=False)
        seconds = time.perf_counter() - start
        entry = {"bytes": spec["bytes"], "seconds": seconds,
                 "quality": sample_quality(x, classifier).to_dict()}
        labels = classifier_outputs(x, classifier)[0].argmax(1)
        pixels = to_pixels(x).float()
        if fp32 is None and name == "fp32":
            fp32 = (labels, pixels)
        elif fp32 is not None:
            diff = (pixels - fp32[1]).abs()
            entry["same_digit_as_fp32"] = float((labels == fp32[0]).double().mean())
            entry["pixel_diff"] = {"mean": float(diff.mean()), "max": float(diff.max())}
        report[name] = entry
    return {"n": n, "steps": steps, "seed": seed, "sampler": "ddim", "eta": 0.0, "versions": report}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpm_edu.web.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("site", help="a folder written by ddpm-edu export-web")
    p.add_argument("--n", type=int, default=1000, help="images per version (default 1000)")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier", default=None, metavar="PATH",
                   help="a digit classifier file of your own (default: the shipped one)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = p.parse_args(argv)
    classifier = None
    if args.classifier:
        from ..classifier import load_classifier
        classifier = load_classifier(args.classifier, sha256=None)
    result = compare_precisions(args.site, args.n, args.steps, args.seed, classifier=classifier,
                                threads=args.threads)
    print(f"{args.n} images per version, DDIM {args.steps} steps, seed {args.seed}")
    print(f"{'version':14} {'MB':>6} {'s':>7} {'confident':>9} {'min class':>9} {'Fréchet':>8} "
          f"{'same digit':>10} {'|Δpixel|':>9}")
    for name, e in result["versions"].items():
        q = e["quality"]
        same = f"{100 * e['same_digit_as_fp32']:.1f} %" if "same_digit_as_fp32" in e else "–"
        diff = f"{e['pixel_diff']['mean']:.2f}" if "pixel_diff" in e else "–"
        print(f"{name:14} {e['bytes'] / 1e6:6.2f} {e['seconds']:7.1f} {100 * q['confident_share']:8.1f}% "
              f"{100 * q['min_class_share']:8.1f}% {q['fid']:8.2f} {same:>10} {diff:>9}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
