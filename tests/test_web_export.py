"""export-web without a browser: the site's files, the ONNX model against PyTorch, the int8 weights
against a direct per-channel oracle, noise files against the library's sampler, and the server.

The page itself (the JavaScript sampler, parity step by step, timings) is tested in a real browser
by tests/browser/test_web_page.py.
"""
from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from ddpm_edu.cli import main

onnx = pytest.importorskip("onnx", reason="export-web needs onnx: pip install -e .[web]")
pytest.importorskip(
    "onnxruntime",
    reason="export-web's int8-dynamic version and the checks need the "
    "Python onnxruntime package: pip install -e .[web]",
)

from ddpm_edu.web import runtime  # noqa: E402
from ddpm_edu.web.noise import noisy_steps, read_noise_file, torch_noise, write_noise_file  # noqa: E402
from ddpm_edu.web.site import PAGE_FILES, export_site  # noqa: E402

WEB = Path(runtime.__file__).parent


def make_checkpoint(
    path, T: int = 1000, mean_type: str = "eps", seed: int = 0, arch: str = "mnist",
    num_classes: int = 0,
):
    """A checkpoint of the architecture's U-Net with random weights everywhere, the zero-initialised
    last convs included: an untrained U-Net outputs exactly 0, which would make any parity check
    vacuous. num_classes > 0: class-conditional (as "mnist-cond")."""
    from ddpm_edu.checkpoints import save_model
    from ddpm_edu.nets import architecture, build_network, network_config
    from ddpm_edu.schedules import linear_schedule

    torch.manual_seed(seed)
    net = build_network({**architecture(arch), "num_classes": num_classes})
    with torch.no_grad():
        for p in net.parameters():
            if not p.abs().max() > 0:
                p.normal_(0.0, 0.05)
    description = {
        "network": network_config(net),
        "schedule": linear_schedule(T).to_config(),
        "data": {"shape": [net.config.in_channels, net.config.image_size, net.config.image_size]},
        "mean_type": mean_type,
        "var_type": "fixed_small",
    }
    save_model(path, net.state_dict(), description, step=0)
    return Path(path)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "rand.safetensors")


@pytest.fixture(scope="module")
def site(ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    return export_site(str(ckpt), out, steps=20, n=16)


@pytest.fixture(scope="module")
def model(ckpt):
    from ddpm_edu import load_pretrained
    return load_pretrained(str(ckpt))


def _session(path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# ---- the folder ---------------------------------------------------------------------------------
def test_site_has_page_models_runtime_and_manifest(site, model):
    out = site.out_dir
    for f in PAGE_FILES:
        assert (out / f).read_bytes() == (WEB / f).read_bytes()
    for f in runtime.FILES:
        assert hashlib.sha256((out / "ort" / f).read_bytes()).hexdigest() == runtime.FILES[f]
    assert "MIT License" in (out / "ort" / "LICENSE").read_text()
    m = json.loads((out / "manifest.json").read_text())
    assert m == site.manifest
    assert m["checkpoint"] == "rand" and m["image"]["shape"] == [1, 28, 28]
    assert m["mean_type"] == "eps" and m["var_type"] == "fixed_small" and m["clip_x0"] is True
    assert m["sampler_defaults"] == {"sampler": "ddim", "steps": 20, "eta": 0.0, "seed": 0, "n": 16,
                                     "spacing": "linspace"}
    # the ᾱ table survives JSON exactly (float64), index 0 = data
    ab = torch.tensor(m["schedule"]["alpha_bar"], dtype=torch.float64)
    assert m["schedule"]["T"] == 1000 and ab[0] == 1 and torch.equal(ab, model.schedule.alpha_bar)
    for spec in m["models"].values():
        assert (out / spec["file"]).stat().st_size == spec["bytes"] == site.files[spec["file"]]
    assert set(m["models"]) == {"fp32", "int8", "int8-dynamic"} and m["default_model"] == "fp32"
    assert (
        m["runtime"]["local"] == "ort/" + runtime.ENTRY and (out / m["runtime"]["local"]).is_file()
    )
    assert m["runtime"]["cdn"].endswith(f"onnxruntime-web@{runtime.VERSION}/dist/")
    assert (
        f"model-fp32.onnx: {m['models']['fp32']['bytes'] / 1e6:.2f} MB (fp32 weights)"
        in site.summary()
    )


def test_export_checks_itself_against_pytorch(site):
    assert site.onnx_error is not None and site.onnx_error < 1e-4


@pytest.mark.parametrize("n", [1, 5])
def test_onnx_equals_pytorch_for_any_batch_and_t(site, model, n):
    sess = _session(site.out_dir / "model-fp32.onnx")
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, 1, 28, 28, generator=g)
    t = torch.randint(1, 1001, (n,), generator=g)
    got = sess.run(["out"], {"x": x.numpy(), "t": t.numpy()})[0]
    want = model.net(x, t).numpy()
    assert np.abs(want).max() > 0.5  # the network really computes something
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


# ---- int8 weights -------------------------------------------------------------------------------
def _oracle_int8(w: np.ndarray):
    """Symmetric per-output-channel int8, written directly from the definition."""
    q = np.empty(w.shape, np.int8)
    s = np.empty(w.shape[0], np.float32)
    for c in range(w.shape[0]):
        s[c] = np.float32(np.abs(w[c]).max() / 127.0)
        q[c] = np.round(w[c].astype(np.float64) / float(s[c])).astype(np.int8)
    return q, s


def test_int8_weights_are_per_channel_rounding(site, model):
    from onnx import numpy_helper

    m = onnx.load(str(site.out_dir / "model-int8.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    dq = {n.output[0]: n for n in m.graph.node if n.op_type == "DequantizeLinear"}
    state = model.net.state_dict()
    weights = [k for k, v in state.items() if k.endswith(".weight") and v.ndim in (2, 4)]
    assert len(dq) == len(weights) == site.int8["tensors"]  # every Conv and Linear weight
    for name in weights:
        w = state[name].numpy()
        q, s = _oracle_int8(w)
        node = dq[name]
        np.testing.assert_array_equal(inits[node.input[0]], q)
        np.testing.assert_allclose(inits[node.input[1]], s, rtol=1e-6)
        deq = inits[node.input[0]].astype(np.float32) * inits[node.input[1]].reshape(
            -1, *[1] * (w.ndim - 1)
        )
        assert (np.abs(deq - w) <= 0.5001 * s.reshape(-1, *[1] * (w.ndim - 1))).all()
    ratio = site.manifest["models"]["int8"]["bytes"] / site.manifest["models"]["fp32"]["bytes"]
    assert 0.25 < ratio < 0.30, ratio


def test_int8_model_equals_pytorch_with_rounded_weights(site, model):
    """ONNX Runtime on the int8 file = PyTorch with each weight replaced by s·q (float32)."""
    import copy
    net = copy.deepcopy(model.net)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                q, s = _oracle_int8(module.weight.numpy())
                module.weight.copy_(
                    torch.from_numpy(q.astype(np.float32) * s.reshape(-1, *[1] * (q.ndim - 1)))
                )
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([1, 400, 1000])
    got = _session(site.out_dir / "model-int8.onnx").run(["out"], {"x": x.numpy(), "t": t.numpy()})[
        0
    ]
    np.testing.assert_allclose(got, net(x, t).numpy(), atol=2e-5, rtol=0)
    fp32 = model.net(x, t).numpy()
    assert (
        1e-3 < np.abs(got - fp32).max() < 0.2
    )  # rounding the weights changes the output, a little


def _rel_rms(a, b) -> float:
    return float(np.sqrt(((a - b) ** 2).mean() / (b ** 2).mean()))


def test_int8_dynamic_uses_integer_kernels_and_stays_close(site, model):
    ops = [n.op_type for n in onnx.load(str(site.out_dir / "model-int8-dynamic.onnx")).graph.node]
    fp32_ops = [n.op_type for n in onnx.load(str(site.out_dir / "model-fp32.onnx")).graph.node]
    assert ops.count("ConvInteger") == fp32_ops.count("Conv") > 10  # every conv, every linear layer
    assert ops.count("MatMulInteger") == fp32_ops.count("Gemm") > 5
    assert "DynamicQuantizeLinear" in ops
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([1, 10, 300, 1000])
    fp32 = model.net(x, t).numpy()
    outs = {
        p: _session(site.out_dir / f"model-{p}.onnx").run(
            ["out"], {"x": x.numpy(), "t": t.numpy()}
        )[0]
        for p in ("int8", "int8-dynamic")
    }
    # 8-bit activations add rounding on top of 8-bit weights: further from float32, still close
    # (on this random network ≈ 2 % and ≈ 5 % relative RMS error)
    assert _rel_rms(outs["int8"], fp32) < _rel_rms(outs["int8-dynamic"], fp32) < 0.15


# ---- noise files --------------------------------------------------------------------------------
def test_noise_file_round_trip(tmp_path):
    x_T, zs = torch_noise(3, (1, 4, 4), "ddpm", steps=5, seed=1)
    assert len(zs) == 4 == noisy_steps("ddpm", 5) and noisy_steps("ddim", 5, 0.0) == 0
    assert noisy_steps("ddim", 5, 0.5) == 4
    path = write_noise_file(tmp_path / "n.bin", x_T, zs)
    assert path.stat().st_size == 4 * 5 * 3 * 16
    got_x, got_z = read_noise_file(path, (3, 1, 4, 4))
    np.testing.assert_array_equal(got_x, x_T.numpy())
    for a, b in zip(got_z, zs):
        np.testing.assert_array_equal(a, b.numpy())
    with pytest.raises(ValueError, match="whole number"):
        read_noise_file(path, (7, 1, 4, 4))
    with pytest.raises(ValueError, match="shape"):
        write_noise_file(tmp_path / "bad.bin", x_T, [torch.zeros(2)])


@pytest.mark.parametrize("sampler,eta", [("ddpm", 0.0), ("ddim", 1.0)])
def test_torch_noise_is_what_the_library_sampler_draws(sampler, eta):
    """The library's chain with seed s, run with a network that outputs 0: x_T must equal our x_T,
    and each update's noise, recovered as (x_{k−1} − mean)/σ, must equal our z_k."""
    from ddpm_edu.reverse import ddim_step, p_mean_variance
    from ddpm_edu.sampling import ddim_steps, ddpm_steps
    from ddpm_edu.schedules import linear_schedule, respace

    schedule, steps, shape = linear_schedule(100), 6, (2, 1, 3, 3)
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    g = torch.Generator().manual_seed(7)
    run = (ddpm_steps(zero, schedule, shape=shape, steps=steps, generator=g) if sampler == "ddpm"
           else ddim_steps(zero, schedule, shape=shape, steps=steps, eta=eta, generator=g))
    xs = [s.x for s in run]
    x_T, zs = torch_noise(2, shape[1:], sampler, steps, eta, seed=7)
    assert torch.equal(xs[0], x_T) and len(zs) == steps - 1
    chain = respace(schedule, steps)
    for k in range(steps, 1, -1):
        x, nxt, z = xs[steps - k], xs[steps - k + 1], zs[steps - k]
        if sampler == "ddpm":
            pmv = p_mean_variance(chain, torch.zeros_like(x), x, k)
            recovered = (nxt - pmv.mean) / pmv.variance.sqrt()
        else:
            eps = torch.zeros_like(x)
            mean, _ = ddim_step(chain, x, eps, k, k - 1, eta=eta, noise=torch.zeros_like(x))
            sigma = ddim_step(chain, x, eps, k, k - 1, eta=eta, noise=torch.ones_like(x))[0] - mean
            recovered = (nxt - mean) / sigma
        torch.testing.assert_close(recovered, z, atol=2e-4, rtol=0)


# ---- the command line ---------------------------------------------------------------------------
def test_cli_int8_only_with_cdn_runtime(ckpt, tmp_path, capsys):
    out = tmp_path / "small"
    assert main(["export-web", "--checkpoint", str(ckpt), "--out", str(out), "--precision", "int8",
                 "--runtime", "cdn", "--steps", "10", "--n", "4", "--title", "My digits"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert (
        set(m["models"]) == {"int8"} and m["default_model"] == "int8" and m["title"] == "My digits"
    )
    assert m["runtime"]["local"] is None and not (out / "ort").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*PAGE_FILES, "manifest.json", "model-int8.onnx"]
    )
    assert m["sampler_defaults"]["steps"] == 10 and m["sampler_defaults"]["n"] == 4
    text = capsys.readouterr().out
    assert "needs internet" in text and "ddpm-edu serve" in text
    # exporting again over an earlier export is fine; the runtime comes back, stale files go
    assert main(["export-web", "--checkpoint", str(ckpt), "--out", str(out), "--precision", "fp32",
                 "int8-dynamic"]) == 0
    assert (out / "ort" / runtime.ENTRY).is_file() and not (out / "model-int8.onnx").exists()
    assert set(json.loads((out / "manifest.json").read_text())["models"]) == {
        "fp32",
        "int8-dynamic",
    }


@pytest.mark.parametrize("extra,message", [
    (["--n", "7"], "one of 1, 4, 9, 16, 25, 36, 64"),
    (["--steps", "2000"], "at most T = 1000"),
    (["--steps", "0"], "positive"),
])
def test_cli_bad_options(ckpt, tmp_path, capsys, extra, message):
    assert (
        main(["export-web", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o"), *extra]) == 2
    )
    assert message in capsys.readouterr().err


def test_cli_refuses_foreign_folders_and_point_models(ckpt, tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "essay.txt").write_text("keep me")
    assert main(["export-web", "--checkpoint", str(ckpt), "--out", str(mine)]) == 2
    assert "not empty" in capsys.readouterr().err and (mine / "essay.txt").read_text() == "keep me"

    from ddpm_edu.checkpoints import save_model
    from ddpm_edu.nets import build_network
    from ddpm_edu.schedules import linear_schedule
    mlp = build_network({"kind": "mlp", "dim": 2})
    save_model(tmp_path / "points.safetensors", mlp.state_dict(),
               {"network": {"kind": "mlp", "dim": 2}, "schedule": linear_schedule(10).to_config(),
                "data": {"shape": [2]}, "mean_type": "eps", "var_type": "fixed_small"}, step=0)
    assert main(["export-web", "--checkpoint", str(tmp_path / "points.safetensors"),
                 "--out", str(tmp_path / "p")]) == 2
    assert "draws images" in capsys.readouterr().err
    assert (
        main(["export-web", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "q")])
        == 2
    )


# ---- the vendored runtime -----------------------------------------------------------------------
def test_vendored_runtime_is_complete_small_and_documented():
    folder = runtime.vendored_dir()
    assert runtime.missing_files() == []
    sizes = {f: (folder / f).stat().st_size for f in runtime.FILES}
    assert sum(sizes.values()) < 20e6
    readme = (folder / "README.md").read_text()
    assert f"onnxruntime-web@{runtime.VERSION}" in readme
    for f, digest in runtime.FILES.items():  # the README's table says what is really there
        assert f"`{f}` | {sizes[f]:,} | `{digest}`".replace(",", " ") in readme
    assert "MIT License" in (folder / "LICENSE").read_text()


# ---- the server ---------------------------------------------------------------------------------
def test_server_types_and_isolation_headers(site):
    from ddpm_edu.web.server import serve_in_thread

    server, url = serve_in_thread(site.out_dir)
    try:
        assert url.startswith("http://127.0.0.1:")
        expected = {
            "index.html": "text/html",
            "app.js": "text/javascript",
            "manifest.json": "application/json",
            f"ort/{runtime.ENTRY}": "text/javascript",
            "ort/ort-wasm-simd-threaded.wasm": "application/wasm",
        }
        for path, ctype in expected.items():
            with urllib.request.urlopen(url + path, timeout=10) as r:
                assert r.headers["Content-Type"].startswith(ctype), path
                assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
                assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "missing.js", timeout=10)
    finally:
        server.shutdown()
        server.server_close()


def test_cli_serve_errors(site, tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "export-web" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", str(site.out_dir), "--port", str(port)]) == 2
    assert "in use" in capsys.readouterr().err


# ---- quality of the 8-bit versions ---------------------------------------------------------------
def test_compare_precisions_judges_each_version_from_the_same_noise(site, model, monkeypatch):
    """Each version samples from the same noise; the fp32 version's images equal PyTorch's own
    samples; each 8-bit version is compared with fp32 image by image. The classifier is replaced by
    a transparent stand-in (the "digit" of an image is the row band, 0..9, holding most ink; the
    "report" keeps the images), so this checks the plumbing in seconds, not the shipped numbers."""
    import ddpm_edu.quality as quality
    from ddpm_edu.web.compare import compare_precisions

    def outputs(images, classifier=None):
        ink = (images.reshape(len(images), 28, 28) + 1)[:, :20].reshape(len(images), 10, -1).sum(-1)
        return torch.nn.functional.one_hot(ink.argmax(1), 10).double(), ink

    class Report:
        def __init__(self, images):
            self.images = images.clone()

        def to_dict(self):
            return {"images": self.images}

    monkeypatch.setattr(quality, "classifier_outputs", outputs)
    monkeypatch.setattr(quality, "sample_quality", lambda images, classifier=None: Report(images))
    result = compare_precisions(site.out_dir, n=5, steps=3, seed=2, batch_size=4)
    versions = result["versions"]
    assert (
        list(versions) == ["fp32", "int8", "int8-dynamic"]
        and "same_digit_as_fp32" not in versions["fp32"]
    )
    want = model.sample(5, steps=3, seed=2)
    # float32 kernels of onnxruntime vs PyTorch: the same chain up to ~1e-4 (as in the browser)
    torch.testing.assert_close(versions["fp32"]["quality"]["images"], want, atol=1e-3, rtol=0)
    labels = outputs(want)[0].argmax(1)
    for name in ("int8", "int8-dynamic"):
        v = versions[name]
        images = v["quality"]["images"]
        assert v["bytes"] == site.manifest["models"][name]["bytes"]
        assert v["same_digit_as_fp32"] == float(
            (outputs(images)[0].argmax(1) == labels).double().mean()
        )
        diff = ((images + 1) * 127.5).round() - ((want + 1) * 127.5).round()
        assert abs(v["pixel_diff"]["mean"] - diff.abs().mean().item()) < 0.05
        assert 0 < v["pixel_diff"]["mean"] <= v["pixel_diff"]["max"] <= 255


def test_cli_serve_prints_its_address_and_serves_the_page(site):
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "ddpm_edu.cli", "serve", str(site.out_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # "serving DIR at http://127.0.0.1:PORT/  (Ctrl-C stops)"
        assert "serving" in line and "http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].split()[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert b"app.js" in r.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---- class-conditional models ("mnist-cond") ----------------------------------------------------
@pytest.fixture(scope="module")
def cond_site(tmp_path_factory):
    d = tmp_path_factory.mktemp("cond")
    ckpt = make_checkpoint(d / "cond.safetensors", seed=3, num_classes=10)
    return export_site(str(ckpt), d / "site", precisions=("fp32", "int8"), steps=10, n=4)


def test_conditional_export_takes_labels_and_equals_pytorch(cond_site):
    from ddpm_edu import load_pretrained

    model = load_pretrained(str(cond_site.out_dir.parent / "cond.safetensors"))
    m = cond_site.manifest
    assert m["onnx"]["inputs"] == ["x", "t", "y"] and m["onnx"]["input_dtypes"]["y"] == "int64"
    assert m["conditional"] == {"num_classes": 10, "null_label": 10, "default_label": 7,
                                "default_guidance": model.default_guidance, "guidance_max": 5.0}
    assert cond_site.onnx_error is not None and cond_site.onnx_error < 1e-4
    sess = _session(cond_site.out_dir / "model-fp32.onnx")
    g = torch.Generator().manual_seed(4)
    x, t = torch.randn(5, 1, 28, 28, generator=g), torch.tensor([1, 10, 200, 999, 1000])
    outs = {}
    for name, y in (("labels", torch.tensor([0, 3, 9, 10, 10])), ("none", torch.full((5,), 10))):
        got = sess.run(["out"], {"x": x.numpy(), "t": t.numpy(), "y": y.numpy()})[0]
        np.testing.assert_allclose(got, model.net(x, t, y).detach().numpy(), atol=2e-5, rtol=0)
        outs[name] = got
    assert np.abs(outs["labels"][:3] - outs["none"][:3]).max() > 1e-3  # the label matters
    np.testing.assert_array_equal(outs["labels"][3:], outs["none"][3:])  # y = 10 is "no label"


def test_unconditional_manifest_has_no_labels(site):
    assert site.manifest["conditional"] is None and site.manifest["onnx"]["inputs"] == ["x", "t"]


# ---- the training page -------------------------------------------------------------------------
def test_training_page_manifest_and_vendored_tfjs(site):
    from ddpm_edu.nets import build_network
    from ddpm_edu.schedules import schedule_from_config
    from ddpm_edu.web import toy

    m = site.manifest["toy"]
    want = schedule_from_config(toy.TOY_SCHEDULE)
    assert m["schedule"]["T"] == 50 and m["schedule"]["config"] == want.to_config()
    assert torch.equal(torch.tensor(m["schedule"]["alpha_bar"], dtype=torch.float64),
                       want.alpha_bar)
    assert build_network(m["network"]).config.hidden == 64 and m["clip_x0"] is False
    assert m["tfjs"]["local"] == "tfjs/" and m["tfjs"]["files"] == list(toy.TFJS_FILES)
    readme = (WEB / "vendor" / "tfjs" / "README.md").read_text()
    for f, digest in toy.TFJS_FILES.items():
        data = (site.out_dir / "tfjs" / f).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert f"`{f}` | {len(data):,} | `{digest}`".replace(",", " ") in readme
    assert sum((WEB / "vendor" / "tfjs" / f).stat().st_size for f in toy.TFJS_FILES) < 2.1e6


def test_weights_json_is_the_state_dict():
    from ddpm_edu.errors import InvalidArgument
    from ddpm_edu.nets import architecture, build_network
    from ddpm_edu.web.toy import weights_json

    net = build_network(architecture("toy2d"))
    w = weights_json(net)
    state = net.state_dict()
    assert w["network"] == architecture("toy2d") and list(w["tensors"]) == list(state)
    for name, v in state.items():
        assert w["tensors"][name]["shape"] == list(v.shape)
        assert w["tensors"][name]["data"] == v.flatten().tolist()
    with pytest.raises(InvalidArgument, match="2-D MLPs"):
        weights_json(build_network(architecture("mnist")))
