"""The page of a class-conditional model ("mnist-cond") in headless Chromium: ask for a digit.

Checked here:

- sampler.js's guidance (``guidedOutput``, ``callLabels``) equals ``ddpm_edu.reverse.guided_eps``
  and the labels ``ddpm_edu.chain.guided_model`` gives the doubled batch [x; x];
- parity: a class-conditional U-Net with random weights, exported, run by the page from a noise
  file: x_t after every step equals PyTorch's guided chain (``ddim_steps`` / ``ddpm_steps`` with
  ``labels`` and ``guidance``) within test_web_page's ``TOL``, for a digit with guidance, a digit
  without (w = 0: one plain call) and "any" (no label);
- the shipped "mnist-cond" model: for every digit, the page's canvas (the images as drawn, read
  back as pixels) is classified by the project's digit classifier: ≥ 95 % the requested digit at
  the page's default guidance (w = 1, from the manifest);
- no console errors, and no request leaves the site (the page works offline).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from labdriver import screenshots_dir
from served import served_page
from test_web_page import DONE, READ_RUN, TOL, _floats, _requirements

HERE = Path(__file__).parent
STEPS = 10  # parity chain
DIGIT_STEPS, DIGIT_N = 20, 9  # the digit test: DDIM steps, images per digit (a 3×3 grid)
CANVAS = """(id) => { const c = document.getElementById(id),
  d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, r = [];
  for (let i = 0; i < d.length; i += 4) r.push(d[i]);
  return { width: c.width, height: c.height, red: r }; }"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    _requirements()
    sys.path.insert(0, str(HERE.parent))
    from test_web_export import make_checkpoint

    from ddpm_edu import load_pretrained
    from ddpm_edu.web import export_site, torch_noise, write_noise_file

    root = tmp_path_factory.mktemp("webcond")
    model = load_pretrained(str(make_checkpoint(root / "rand.safetensors", seed=2,
                                                num_classes=10)))
    rand = export_site(model, root / "rand", precisions=("fp32",), steps=STEPS, n=4)
    for sampler in ("ddim", "ddpm"):
        write_noise_file(rand.out_dir / f"{sampler}.bin",
                         *torch_noise(4, model.shape, sampler, STEPS, seed=5))
    real = export_site("mnist-cond", root / "real", precisions=("fp32", "int8"),
                       steps=DIGIT_STEPS, n=DIGIT_N)
    with served_page(root) as served:
        yield {"model": model, "real": real, **served}


def _run(env, site: str, query: str) -> dict:
    page = env["page"]
    page.goto(f"{env['url']}{site}/index.html?{query}&autorun=1")
    page.wait_for_function(DONE, timeout=300_000)
    assert page.evaluate("() => window.ddpmEdu.error") is None, page.text_content("#status")
    return page.evaluate(READ_RUN)


def test_guidance_in_javascript_equals_the_library(env):
    from ddpm_edu.reverse import guided_eps

    page = env["page"]
    page.goto(env["url"] + "rand/index.html")
    g = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(2, 3, 5, 5, generator=g), torch.randn(2, 3, 5, 5, generator=g)
    js = page.evaluate("""async ([out]) => { const S = await import("./sampler.js");
        const c = { num_classes: 10, null_label: 10 }, lab = (d, w) => S.callLabels(c, d, w, 3);
        const l = [lab(7, 1.5), lab(7, 0), lab("any", 2)].map(
          (r) => [Array.from(r.labels, Number), r.doubled]);
        let bad = null; try { lab(10, 1); } catch (e) { bad = e.message; }
        return { w: [0, 1, 2.5].map((w) => Array.from(S.guidedOutput(Float32Array.from(out), w))),
                 labels: l, bad }; }""", [torch.cat([cond, uncond]).flatten().tolist()])
    for got, w in zip(js["w"], (0, 1, 2.5)):
        np.testing.assert_allclose(got, guided_eps(cond, uncond, w).flatten().numpy(), atol=1e-6)
    assert js["labels"] == [[[7, 7, 7, 10, 10, 10], True], [[7, 7, 7], False], [[10] * 3, False]]
    assert "digit must be 0..9" in js["bad"]


@pytest.mark.parametrize("sampler,digit,w", [("ddim", 3, 2.0), ("ddpm", 8, 0.0),
                                             ("ddim", "any", 0.0)])
def test_guided_page_equals_pytorch_step_by_step(env, sampler, digit, w):
    from ddpm_edu.sampling import ddim_steps, ddpm_steps

    run = _run(env, "rand", f"noise={sampler}.bin&sampler={sampler}&steps={STEPS}&n=4"
                            f"&digit={digit}&guidance={w}&record=1")
    gen = torch.Generator().manual_seed(5)
    cond = {} if digit == "any" else {"labels": digit, "guidance": w}
    model = env["model"]
    steps = (ddim_steps(model.eps, model.schedule, shape=(4, 1, 28, 28), steps=STEPS, eta=0.0,
                        generator=gen, **cond) if sampler == "ddim" else
             ddpm_steps(model.eps, model.schedule, shape=(4, 1, 28, 28), steps=STEPS,
                        var_type=model.var_type, generator=gen, **cond))
    want = [s.x.numpy().ravel() for s in steps]
    errors = [float(np.abs(_floats(got) - x).max()) for got, x in zip(run["x"], want)]
    print(f"\n{sampler} digit {digit} w {w}: max |page − PyTorch| per step: "
          f"{['%.1e' % e for e in errors]}")
    assert len(errors) == STEPS + 1 and max(errors) < TOL, errors
    assert np.abs(want[-1]).max() > 0.5  # the guided chain moved somewhere


def _tiles(canvas: dict, n: int) -> torch.Tensor:
    """The n 28×28 images of the page's grid (1-pixel borders), as the model's [−1, 1] range."""
    cols = int(np.ceil(np.sqrt(n)))
    red = np.asarray(canvas["red"], dtype=np.float32).reshape(canvas["height"], canvas["width"])
    tiles = [red[1 + (b // cols) * 29:][:28, 1 + (b % cols) * 29:][:, :28] for b in range(n)]
    return torch.from_numpy(np.stack(tiles))[:, None] / 127.5 - 1.0


def test_page_draws_the_requested_digit(env):
    from ddpm_edu.quality import classifier_outputs

    page, right, per_digit = env["page"], 0, {}
    for digit in range(10):
        run = _run(env, "real", f"digit={digit}&seed={digit}&precision=fp32")
        assert run["t"][-1] == 0 and len(run["ms"]) == DIGIT_STEPS
        assert page.input_value("#guidance") == "1"  # the manifest's default guidance
        images = _tiles(page.evaluate(CANVAS, "xt"), DIGIT_N)
        # the canvas holds the final samples, rounded to pixels as to_pixels rounds them
        final = torch.from_numpy(_floats(run["x"][-1]).copy()).reshape(DIGIT_N, 1, 28, 28)
        assert (images - final.clamp(-1, 1)).abs().max() <= 0.5 / 127.5 + 1e-6
        got = classifier_outputs(images)[0].argmax(1)
        per_digit[digit] = int((got == digit).sum())
        right += per_digit[digit]
    print(f"\nrequested digit drawn (of {DIGIT_N} each): {per_digit}; "
          f"{page.text_content('#timing')}")
    assert right >= 0.95 * 10 * DIGIT_N, per_digit
    assert "twice each for guidance" in page.text_content("#timing")
    assert page.is_visible("#guidance-help") and page.is_visible("#digit")
    page.screenshot(path=str(screenshots_dir() / "web_digits.png"), full_page=True)
    assert env["errors"] == []
    site = env["url"]
    assert all(u.startswith(site) or u.startswith("data:") for u in env["requests"]), [
        u for u in env["requests"] if not u.startswith(site)]
