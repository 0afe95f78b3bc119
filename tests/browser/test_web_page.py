"""The exported page in a real (headless) browser: the JavaScript sampler against PyTorch.

A checkpoint of the "mnist" U-Net with random weights (so every op of the real architecture runs,
and its output is far from 0) is exported with ``export_site``, served on 127.0.0.1 by
``ddpm_edu.web.server``, and opened in Debian's Chromium through Playwright (never a browser that
Playwright downloads). Checked there:

- sampler.js's respacing equals ``respace`` for every number of steps, and one DDIM / DDPM update
  equals ``ddim_step`` / ``p_mean_variance`` for each mean type (ε, x_0, μ);
- parity: with a noise file (``?noise=``), the page's x_t after every step equals PyTorch's chain
  (``ddim_steps`` / ``ddpm_steps`` with the same seed) within ``TOL``, for DDIM η = 0 and DDPM;
- the Generate button makes 16 images, the canvas is not blank, the time per step is shown;
- a page exported with ``--runtime cdn`` loads the runtime from the CDN address (answered here by
  Playwright with the vendored files: no request leaves the machine) and says so when unreachable;
- ms per step, fp32 vs the two 8-bit versions, measured side by side (written to
  ``$DDPM_EDU_SCREENSHOTS/web_timing.json``, default tests/browser/screenshots/; never asserted;
  a short run, so a rough figure: ``python -m ddpm_edu.web.browser SITE`` times long runs).

Skips, with the reason, when Playwright, Chromium, onnx, onnxruntime or the vendored runtime is
missing.
"""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from labdriver import require_chromium, screenshots_dir
from served import served_page

HERE = Path(__file__).parent
# |page − PyTorch| allowed on x_t (data range [−1, 1]) after any step, fp32. The JavaScript update
# runs in float64 and the wasm kernels sum in another order than PyTorch's, so the two differ by
# float32 rounding (~1e-6), which the random network amplifies a little from step to step.
TOL = 1e-3
N, STEPS = 16, 10
TIMED_STEPS = 6  # per run of the Generate test (the first is warm-up and not timed)
PRECISIONS = ("fp32", "int8", "int8-dynamic")

DONE = "() => (window.ddpmEdu.lastRun && window.ddpmEdu.lastRun.done) || window.ddpmEdu.error"
# Float32Arrays of the last run, as base64 (JSON of 16·784·11 numbers would be slow)
READ_RUN = """() => {
  const b64 = (f) => { const u = new Uint8Array(f.buffer, f.byteOffset, f.byteLength); let s = "";
    for (let i = 0; i < u.length; i += 0x8000)
      s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    return btoa(s); };
  const r = window.ddpmEdu.lastRun;
  return { t: r.t, x: r.x.map(b64), x0: r.x0.map(b64), ms: r.msPerStep, netMs: r.netMsPerStep };
}"""
CANVAS_STATS = """(id) => {
  const c = document.getElementById(id),
    d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const v = []; for (let i = 0; i < d.length; i += 4) v.push(d[i]);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { width: c.width, height: c.height, mean,
           std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length),
           levels: new Set(v).size };
}"""


def _requirements():
    require_chromium()
    pytest.importorskip("onnx", reason="export-web needs onnx: pip install -e .[web]")
    pytest.importorskip("onnxruntime", reason="export-web's int8-dynamic version needs the Python "
                                              "onnxruntime package: pip install -e .[web]")
    from ddpm_edu.web import runtime
    if runtime.missing_files():
        pytest.skip(f"the vendored onnxruntime-web files {runtime.missing_files()} are missing in "
                    f"{runtime.vendored_dir()}: git checkout that folder")


def _floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    _requirements()
    sys.path.insert(0, str(HERE.parent))
    from test_web_export import make_checkpoint

    from ddpm_edu import load_pretrained
    from ddpm_edu.web import export_site, torch_noise, write_noise_file

    tmp = tmp_path_factory.mktemp("web")
    ckpt = make_checkpoint(tmp / "rand.safetensors", seed=1)
    model = load_pretrained(str(ckpt))
    site = export_site(model, tmp / "site", steps=STEPS, n=N)
    for sampler, n in (("ddim", N), ("ddpm", 4)):
        write_noise_file(
            site.out_dir / f"{sampler}.bin", *torch_noise(n, model.shape, sampler, STEPS, seed=5)
        )
    with served_page(site.out_dir, viewport={"width": 1100, "height": 900}) as served:
        yield {"model": model, "site": site, "tmp": tmp, **served}


def _open(env, query: str):
    page = env["page"]
    page.goto(env["url"] + "index.html?" + query)
    page.wait_for_function("() => window.ddpmEdu.ready || window.ddpmEdu.error", timeout=180_000)
    assert page.evaluate("() => window.ddpmEdu.error") is None
    return page


def _run(env, query: str) -> dict:
    page = _open(env, query + "&autorun=1")
    page.wait_for_function(DONE, timeout=300_000)
    assert page.evaluate("() => window.ddpmEdu.error") is None, page.text_content("#status")
    return page.evaluate(READ_RUN)


# ---- the sampler's math, one function at a time --------------------------------------------------
def test_respacing_equals_python(env):
    from ddpm_edu.schedules import linear_schedule, respace

    page = _open(env, "")
    # T = 1000: all S ≤ 100, every 9th after, and the S where linspace(1, 1000, S) hits a .5 (S − 1
    # divides 1998 but not 999), where rounding half to even matters; T = 7: every S
    for T, counts in (
        (1000, [*range(1, 101), *range(101, 1001, 9), 223, 667, 1000]),
        (7, range(1, 8)),
    ):
        js = page.evaluate("""async ([T, counts]) => { const S = await import("./sampler.js");
            return counts.map((n) => S.respaceTimesteps(T, n)); }""", [T, list(counts)])
        s = linear_schedule(T)
        for got, steps in zip(js, counts):
            assert got == respace(s, steps).timesteps[1:].tolist(), steps


@pytest.mark.parametrize("mean_type", ["eps", "x0", "mu"])
def test_one_update_equals_the_library(env, mean_type):
    from ddpm_edu.forward import predict_eps_from_x0, predict_x0_from_mean
    from ddpm_edu.reverse import ddim_step, p_mean_variance
    from ddpm_edu.schedules import linear_schedule, respace

    base = linear_schedule(1000)
    g = torch.Generator().manual_seed(0)
    x, out, z = (torch.randn(2, 1, 5, 5, generator=g) for _ in range(3))
    out = out * 0.9 if mean_type != "mu" else x * 0.98 + 0.02 * out  # μ lies near x_t
    js = env["page"].evaluate(
        """async ([ab, x, out, z, mt]) => { const S = await import("./sampler.js");
        const chain = S.makeChain(ab, 10), f = (a) => Float32Array.from(a), r = {};
        for (const k of [10, 6, 1]) {
          r["ddim" + k] = Array.from(S.ddimStep(chain, k, f(x), f(out), mt, 0.7, f(z)).x);
          r["ddpm" + k] = Array.from(S.ddpmStep(chain, k, f(x), f(out), mt, "fixed_small", f(z)).x);
          r["large" + k] = Array.from(
            S.ddpmStep(chain, k, f(x), f(out), mt, "fixed_large", f(z)).x);
        }
        return r; }""",
        [
            base.alpha_bar.tolist(),
            x.flatten().tolist(),
            out.flatten().tolist(),
            z.flatten().tolist(),
            mean_type,
        ],
    )
    chain = respace(base, 10)
    for k in (10, 6, 1):
        t_orig = torch.full((2,), int(chain.timesteps[k]))
        x0 = (
            out
            if mean_type == "x0"
            else predict_x0_from_mean(base, x, t_orig, out)
            if mean_type == "mu"
            else None
        )
        eps = out if mean_type == "eps" else predict_eps_from_x0(chain, x, k, x0)
        want = ddim_step(
            chain, x, eps, k, k - 1, eta=0.7, noise=z if k > 1 else torch.zeros_like(z)
        )[0]
        np.testing.assert_allclose(js[f"ddim{k}"], want.flatten().numpy(), atol=2e-5, rtol=0)
        for var_type, key in (("fixed_small", "ddpm"), ("fixed_large", "large")):
            pmv = p_mean_variance(chain, eps if mean_type != "x0" else x0, x, k,
                                  "eps" if mean_type != "x0" else "x0", var_type)
            want = pmv.mean + (pmv.variance.sqrt() * z if k > 1 else 0)
            np.testing.assert_allclose(js[f"{key}{k}"], want.flatten().numpy(), atol=2e-5, rtol=0)


# ---- parity with PyTorch, step by step -----------------------------------------------------------
def _torch_chain(model, sampler: str, n: int):
    from ddpm_edu.sampling import ddim_steps, ddpm_steps
    g = torch.Generator().manual_seed(5)
    shape = (n, *model.shape)
    it = (
        ddim_steps(model.eps, model.schedule, shape=shape, steps=STEPS, eta=0.0, generator=g)
        if sampler == "ddim"
        else ddpm_steps(
            model.eps,
            model.schedule,
            shape=shape,
            steps=STEPS,
            var_type=model.var_type,
            generator=g,
        )
    )
    return [(s.t, s.x.numpy().ravel()) for s in it]


@pytest.mark.parametrize("sampler,n", [("ddim", N), ("ddpm", 4)])
def test_page_equals_pytorch_step_by_step(env, sampler, n):
    run = _run(
        env,
        f"noise={sampler}.bin&sampler={sampler}&eta=0&steps={STEPS}&n={n}&precision=fp32&record=1",
    )
    want = _torch_chain(env["model"], sampler, n)
    assert run["t"] == [t for t, _ in want] and len(run["x"]) == len(want) == STEPS + 1
    errors = [float(np.abs(_floats(got) - x).max()) for got, (_, x) in zip(run["x"], want)]
    print(f"\n{sampler}: max |page − PyTorch| per step: {['%.1e' % e for e in errors]}")
    assert errors[0] == 0  # x_T is the file's noise, exactly
    assert max(errors) < TOL, errors
    final = _floats(run["x"][-1])
    assert np.abs(final).max() <= 1.0 + 1e-6 and final.std() > 0.1


# ---- the page as a teacher uses it ---------------------------------------------------------------
def test_generate_button_draws_16_images_and_times_each_step(env):
    page = _open(env, f"seed=3&steps={TIMED_STEPS}&n={N}")
    assert page.text_content("#status").startswith("ready: ONNX Runtime Web")
    timing = {}
    for precision in PRECISIONS * 2:  # alternated, so each sees the same machine load
        page.select_option("#precision", precision)
        page.click("#generate")
        page.wait_for_function(
            "() => window.ddpmEdu.lastRun && window.ddpmEdu.lastRun.options.precision === '"
            + precision
            + "' && window.ddpmEdu.lastRun.done",
            timeout=300_000,
        )
        run = page.evaluate(READ_RUN)
        assert len(run["ms"]) == TIMED_STEPS and run["t"][0] == 1000 and run["t"][-1] == 0
        final = _floats(run["x"][-1])
        assert final.size == N * 28 * 28 and np.isfinite(final).all()
        timing.setdefault(precision, []).extend(run["ms"][1:])  # the first call includes warm-up
        stats = page.evaluate(CANVAS_STATS, "xt")
        # a 4×4 grid of 28×28 tiles (1-pixel borders), with many grey levels, not one flat colour
        assert (stats["width"], stats["height"]) == (4 * 29 + 1, 4 * 29 + 1)
        assert stats["std"] > 20 and stats["levels"] > 50, stats
        page.wait_for_function("() => !document.getElementById('generate').disabled")
    assert "time per step" in page.text_content(
        "#timing"
    ) and "int8-dynamic weights" in page.text_content("#timing")
    assert page.text_content("#progress") == f"step {TIMED_STEPS} of {TIMED_STEPS}: t = 1 → 0"
    page.screenshot(path=str(screenshots_dir() / "web_page.png"), full_page=True)
    report = {
        p: {"ms_per_step_median": float(np.median(v)), "steps_timed": len(v)}
        for p, v in timing.items()
    }
    report["n_images"] = N
    report["model_bytes"] = {p: s["bytes"] for p, s in env["site"].manifest["models"].items()}
    for p in PRECISIONS[1:]:
        report[f"{p}_over_fp32_time"] = (
            report[p]["ms_per_step_median"] / report["fp32"]["ms_per_step_median"]
        )
    (screenshots_dir() / "web_timing.json").write_text(json.dumps(report, indent=1))
    print("\nms per step in headless Chromium (16 images):", json.dumps(report))
    assert env["errors"] == []


def test_missing_noise_numbers_are_reported_on_the_page(env):
    # ddim.bin holds x_T only: a DDPM run needs a z per step and must say so, not invent noise
    page = _open(env, f"noise=ddim.bin&sampler=ddpm&steps={STEPS}&n={N}")
    page.click("#generate")
    page.wait_for_function(
        "() => document.getElementById('status').classList.contains('error')", timeout=180_000
    )
    assert "noise file holds" in page.text_content("#status")


def test_cdn_runtime_loads_cross_origin_and_fails_clearly_offline(env):
    from ddpm_edu.web import export_site, runtime
    from ddpm_edu.web.server import serve_in_thread

    site = export_site(
        env["model"],
        env["tmp"] / "cdn-site",
        precisions=("int8",),
        runtime_mode="cdn",
        steps=3,
        n=4,
    )
    assert not (site.out_dir / "ort").exists()
    server, url = serve_in_thread(site.out_dir)
    page = env["page"]
    served = []

    def cdn(route):  # what the CDN would answer (CORS-enabled), from the vendored copy
        name = route.request.url.rsplit("/", 1)[-1]
        served.append(name)
        body = (runtime.vendored_dir() / name).read_bytes()
        ctype = "application/wasm" if name.endswith(".wasm") else "text/javascript"
        route.fulfill(
            status=200,
            body=body,
            headers={
                "Content-Type": ctype,
                "Access-Control-Allow-Origin": "*",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    try:
        page.route(runtime.CDN_BASE + "**", cdn)
        page.goto(url + "index.html?autorun=1")
        page.wait_for_function(DONE, timeout=180_000)
        assert "from the CDN" in page.text_content("#status") and "1 thread" in page.text_content(
            "#status"
        )
        assert set(served) == set(runtime.FILES)
        page.unroute(runtime.CDN_BASE + "**")
        page.route(runtime.CDN_BASE + "**", lambda route: route.abort())  # offline: nothing answers
        page.goto(url + "index.html")
        page.wait_for_function("() => window.ddpmEdu.error", timeout=180_000)
        assert "cannot load ONNX Runtime Web" in page.text_content("#status")
    finally:
        page.unroute(runtime.CDN_BASE + "**")
        server.shutdown()
        server.server_close()
