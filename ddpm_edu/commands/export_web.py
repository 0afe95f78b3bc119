"""``ddpm-edu export-web``: a trained model as a static web page that samples in the browser."""
from __future__ import annotations

import argparse

from . import _common


HELP = "write a web page that runs a trained model in the browser (offline, on any device)"

DESCRIPTION = """\
Write a self-contained static site into --out: the network as ONNX (float32 and two 8-bit \
versions), a
manifest (schedule, image size, sampler defaults, normalisation), ONNX Runtime Web (wasm, ~14 MB,
so the page works offline) and index.html + JavaScript that run DDIM or DDPM in the page and draw
x_t and the prediction x0_hat at every step. A class-conditional model (mnist-cond) gets a digit
picker and a guidance control. Every export also writes train.html, a page that trains a small
diffusion model on 2-D points in the browser (TensorFlow.js, ~2 MB, in tfjs/). Serve it with
`ddpm-edu serve DIR` and open the address it prints (browsers do not run the page from file://).

examples:
  ddpm-edu export-web --checkpoint mnist --out site
  ddpm-edu serve site                          # then open http://127.0.0.1:8000/
  ddpm-edu export-web --checkpoint mnist-cond --out digits   # ask for a digit
  ddpm-edu export-web --checkpoint runs/my-first-model --out mine --precision fp32 int8
  ddpm-edu export-web --checkpoint mnist --out small --runtime cdn   # runtime from the internet

Page addresses take options: index.html?sampler=ddpm&steps=100&seed=3&n=36&precision=int8
(mnist-cond: also digit=0..9|any and guidance=W); train.html?preset=moons|rings|spiral|draw"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="mnist", metavar="NAME|PATH",
                        help="a shipped model by name (mnist, mnist-cond), a run folder or a "
                             ".safetensors file (default: mnist)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the site into")
    parser.add_argument("--precision", nargs="+", choices=("fp32", "int8", "int8-dynamic"),
                        default=["fp32", "int8", "int8-dynamic"], metavar="P",
                        help="versions of the network to export, the page lets you switch: fp32 "
                             "(exact), int8 (8-bit weights: 3.5x smaller file, same speed), "
                             "int8-dynamic (8-bit weights and activations: smaller and faster, "
                             "less exact); default: all three")
    parser.add_argument("--runtime", choices=("copy", "cdn"), default="copy",
                        help="copy: put ONNX Runtime Web beside the page (works offline; default); "
                             "cdn: load it from a public CDN (smaller folder, needs internet)")
    parser.add_argument(
        "--steps", type=int, default=50, help="the page's initial number of steps (default 50)"
    )
    parser.add_argument(
        "--n",
        type=int,
        default=16,
        help="the page's initial number of images: 1, 4, 9, 16, 25, 36 or 64 (default 16)",
    )
    parser.add_argument("--title", default=None, help="heading of the page")


def run(args) -> int:
    from ..web.site import export_site

    _common.writable_dir(args.out)

    result = export_site(
        args.checkpoint,
        args.out,
        precisions=args.precision,
        runtime_mode=args.runtime,
        steps=args.steps,
        n=args.n,
        title=args.title,
    )
    print(result.summary())
    print(f"serve it with: ddpm-edu serve {args.out}")
    return 0
