"""diagnose(): each planted fault is found, and a healthy setup reports ok.

Models used:
* ``Oracle``: the true ε for the probe images (it holds them; the probes use data[:n_probe] as
  one batch). ``shift=+1`` fakes a model trained with 0-based t: told j, it answers for the noise
  level of step j + 1, so it is exact when told t − 1.
* ``BinaryOptimal``: the Bayes-optimal ε* for images whose pixels are ±1 (P(+1) = 0.2), a
  non-oracle model; with ``shift`` it is the same model trained off by one.
"""
import json
import math

import numpy as np
import pytest
import torch

from ddpm_edu.diagnose import (Diagnosis, Finding, LossCurve, check_samples, diagnose,
                               expected_loss_curve, loss_curve)
from ddpm_edu.forward import predict_eps_from_x0
from ddpm_edu.schedules import cosine_schedule, linear_schedule, respace

T = 100
P = 0.2


@pytest.fixture(scope="module")
def sched():
    return linear_schedule(T, 1e-3, 0.2)


def smooth_images(n=32, seed=0):
    """Images in [−1, 1] with spatial structure (bilinearly upsampled noise), [n, 1, 8, 8]."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n, 1, 3, 3, generator=g)
    return torch.tanh(
        torch.nn.functional.interpolate(low, size=(8, 8), mode="bilinear", align_corners=True)
    )


def binary_images(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 8, 8, generator=g) < P).float() * 2 - 1


class Oracle(torch.nn.Module):
    kind = "test-oracle"

    def __init__(self, schedule, x0, shift=0, table_size=None):
        super().__init__()
        self.schedule, self.x0, self.shift, self.table_size = schedule, x0, shift, table_size
        self.scale = torch.nn.Parameter(torch.ones(()))  # a weight, for the weights check

    def forward(self, xt, t):
        if self.table_size is not None and (t >= self.table_size).any():  # like nn.Embedding(T, d)
            raise IndexError(
                f"index {int(t.max())} is out of range for an embedding of size {self.table_size}"
            )
        t = (t + self.shift).clamp(1, self.schedule.T)
        return self.scale * predict_eps_from_x0(self.schedule, xt, t, self.x0[: len(xt)])


class BinaryOptimal:
    def __init__(self, schedule, shift=0):
        self.schedule, self.shift = schedule, shift

    def __call__(self, xt, t):
        t = (t + self.shift).clamp(1, self.schedule.T)
        ab = self.schedule.alpha_bar[t].to(xt.dtype).view(-1, 1, 1, 1)
        # E[x_0 | x_t] for x_0 ∈ {−1, +1}: tanh of half the posterior log-odds
        # (clamped: tanh(±20) is ±1 in float32, and torch's tanh is slow on huge arguments)
        x0 = torch.tanh(
            (0.5 * (math.log(P / (1 - P)) + 2 * ab.sqrt() * xt / (1 - ab))).clamp(-20, 20)
        )
        return (xt - ab.sqrt() * x0) / (1 - ab).sqrt()


def severities(report: Diagnosis, check: str):
    return [f.severity for f in report.find(check)]


# ---- healthy ----------------------------------------------------------------------------------

def test_healthy_setup_reports_ok(sched):
    x = smooth_images()
    report = diagnose(Oracle(sched, x), sched, data=x, sampling_schedule=respace(sched, 10),
                      samples=smooth_images(seed=1))
    assert report.ok, str(report)
    for check in ("weights", "data-range", "schedule", "outputs", "time-index", "trained",
                  "clipping", "structure"):
        assert severities(report, check) == ["ok"], (check, str(report))
    assert "nothing wrong" in str(report)


def test_healthy_non_oracle_model_reports_ok(sched):
    report = diagnose(BinaryOptimal(sched), sched, data=binary_images())
    assert report.ok, str(report)


# ---- planted faults -----------------------------------------------------------------------------

def test_data_stored_as_0_to_255(sched):
    pixels = ((smooth_images() + 1) * 127.5).round()
    report = diagnose(Oracle(sched, pixels), sched, data=pixels)
    assert severities(report, "data-range") == ["error"] and not report.ok
    assert "0..255" in report.find("data-range")[0].message
    assert "127.5" in report.find("data-range")[0].fix


def test_data_in_0_1(sched):
    # the one verdict on data ranges (ddpm_edu._checks.image_range_verdict): a warning with the fix
    report = diagnose(data=(smooth_images() + 1) / 2)
    assert severities(report, "data-range") == ["warning"] and not report.ok
    found = report.find("data-range")[0]
    assert "[0, 1]" in found.message and "2 * x - 1" in found.fix


def test_standardised_data_and_narrow_data():
    g = torch.Generator().manual_seed(0)
    report = diagnose(data=torch.randn(16, 1, 8, 8, generator=g))
    assert severities(report, "data-range") == ["error"] and "standardised" in str(report)
    report = diagnose(data=smooth_images() * 0.4)
    assert severities(report, "data-range") == ["warning"]


def test_uint8_data_are_mapped_for_the_probes(sched):
    x = smooth_images()
    pixels = ((x + 1) * 127.5).round().to(torch.uint8)
    exact = pixels.float() / 127.5 - 1
    report = diagnose(Oracle(sched, exact), sched, data=pixels)
    assert severities(report, "data-range") == ["info"] and report.ok, str(report)


def test_mismatched_schedule(sched):
    report = diagnose(schedule=sched, sampling_schedule=cosine_schedule(T))
    assert severities(report, "schedule") == ["error"]
    assert "respace" in report.find("schedule")[0].fix
    other = linear_schedule(T, 1e-4, 0.02)   # same T, other β
    assert severities(diagnose(schedule=sched, sampling_schedule=other), "schedule") == ["error"]
    assert severities(
        diagnose(schedule=sched, sampling_schedule=respace(other, 10)), "schedule"
    ) == ["error"]


@pytest.mark.parametrize("make", ["oracle", "optimal"])
def test_model_trained_with_0_based_t(sched, make):
    x = smooth_images() if make == "oracle" else binary_images()
    model = Oracle(sched, x, shift=1) if make == "oracle" else BinaryOptimal(sched, shift=1)
    report = diagnose(model, sched, data=x)
    assert severities(report, "time-index") == ["error"], str(report)
    f = report.find("time-index")[0]
    assert "t - 1" in f.message and "0-based" in f.message and "t - 1" in f.fix


def test_model_trained_with_t_plus_1_is_found_too(sched):
    report = diagnose(BinaryOptimal(sched, shift=-1), sched, data=binary_images())
    assert severities(report, "time-index") == ["error"]
    assert "t + 1" in report.find("time-index")[0].message


def test_model_with_an_embedding_of_T_entries_fails_at_t_equal_T(sched):
    x = smooth_images()
    report = diagnose(Oracle(sched, x, shift=1, table_size=T), sched, data=x)
    assert severities(report, "model-call") == ["error"]
    assert "t = T" in report.find("model-call")[0].message


def test_unclipped_samples():
    g = torch.Generator().manual_seed(0)
    samples = smooth_images(seed=2) * 1.8                                # x̂_0 never clipped
    report = check_samples(samples)
    assert [f.severity for f in report if f.check == "clipping"] == ["error"]
    assert "clip" in [f for f in report if f.check == "clipping"][0].fix
    noise = torch.randn(32, 1, 8, 8, generator=g).clamp(-1, 1)          # clipped, but still noise
    report = Diagnosis(check_samples(noise))
    assert severities(report, "structure") == ["error"] and severities(report, "clipping") == ["ok"]


def test_points_are_not_judged_as_images():
    pts = torch.tensor([[1.8, 0.2], [-0.5, 1.3], [0.0, 0.0]])   # two-moons-like points beyond ±1
    assert [f.severity for f in check_samples(pts)] == ["info"]


def test_samples_with_nan_mention_t_equal_0(tmp_path):
    x = smooth_images()
    x[0, 0, 0, 0] = float("nan")
    report = Diagnosis(check_samples(x))
    assert severities(report, "samples") == ["error"] and "t = 0" in str(report)
    pixels = (
        ((smooth_images() + 1) * 127.5).round().to(torch.uint8).numpy()[:, 0]
    )  # (N, H, W) uint8
    np.save(tmp_path / "s.npy", pixels)
    report = Diagnosis(check_samples(tmp_path / "s.npy"))
    assert severities(report, "clipping") == ["info"] and severities(report, "structure") == ["ok"]


def test_nan_weights(sched):
    x = smooth_images()
    model = Oracle(sched, x)
    with torch.no_grad():
        model.scale.fill_(float("nan"))
    report = diagnose(model, sched, data=x)
    assert severities(report, "weights") == ["error"]
    assert not report.find("time-index")   # no probes on a model that can only output NaN


def test_nan_outputs(sched):
    x = smooth_images()
    report = diagnose(lambda xt, t: xt * float("nan"), sched, data=x)
    assert severities(report, "outputs") == ["error"]


def test_untrained_and_t_blind_models(sched):
    x = smooth_images()
    report = diagnose(lambda xt, t: torch.zeros_like(xt), sched, data=x)   # a fresh zero-init U-Net
    assert severities(report, "trained") == ["error"]
    report = diagnose(lambda xt, t: 0.5 * xt, sched, data=x)               # ignores t
    assert severities(report, "time-index") == ["warning"]


def test_model_on_data_of_the_wrong_layout(sched):
    x = smooth_images()
    report = diagnose(
        Oracle(sched, x), sched, data=x[:, 0]
    )  # [N, H, W], the model wants [N, 1, H, W]
    assert severities(report, "model-call") == ["error"]


# ---- loss curve ---------------------------------------------------------------------------------

def test_loss_curve_comparison_and_json_round_trip(sched, tmp_path):
    x = binary_images()
    good = BinaryOptimal(sched)
    ts = [1, 2, 5, 10, 30, 60, 100]
    ref = loss_curve(good, sched, x, ts, torch.Generator().manual_seed(5))
    assert ref.shape == (7,) and (ref > 0).all()
    curve = LossCurve(ts, ref.tolist(), sched.to_config(), [1, 8, 8], 64, 5, "test reference")
    curve.save(tmp_path / "c.json")
    assert LossCurve.load(tmp_path / "c.json") == curve
    assert severities(diagnose(good, sched, data=x, expected_curve=curve), "loss-curve") == ["ok"]

    def worse(xt, t):   # a model with extra error, 4× the optimum's at every step
        return good(xt, t) + 1.7 * ref.mean().sqrt().item() * torch.ones_like(xt)

    assert severities(diagnose(worse, sched, data=x, expected_curve=curve), "loss-curve") == [
        "error"
    ]
    other = LossCurve(ts, ref.tolist(), cosine_schedule(T).to_config(), [1, 8, 8], 64, 5, "cosine")
    assert severities(diagnose(good, sched, data=x, expected_curve=other), "loss-curve") == ["info"]


def test_expected_loss_curve_computes_once_and_caches(tmp_path, monkeypatch, sched):
    import ddpm_edu.pretrained as pretrained

    class Shipped:   # the contract of load_pretrained: .eps, .schedule, .shape
        schedule, shape = sched, (1, 28, 28)

        @staticmethod
        def eps(xt, t):
            return 0.9 * xt

    calls = []
    monkeypatch.setattr(pretrained, "load_pretrained", lambda name: calls.append(name) or Shipped())
    path = tmp_path / "mnist-loss-curve.json"
    assert expected_loss_curve(path=path, compute=False) is None
    curve = expected_loss_curve(path=path, n_images=8)
    assert calls == ["mnist"] and path.is_file()
    saved = json.loads(path.read_text())
    assert (
        saved["t"] == curve.t and saved["n_images"] == 8 and saved["schedule"] == sched.to_config()
    )
    from ddpm_edu import load_mnist, to_model_range
    x0 = to_model_range(load_mnist("test")[0][:8])[:, None]
    direct = loss_curve(Shipped.eps, sched, x0, curve.t, torch.Generator().manual_seed(0))
    assert curve.loss == pytest.approx(direct.tolist(), abs=1e-6)
    assert expected_loss_curve(path=path) == curve and calls == ["mnist"]   # read from the file


def test_report_is_readable_and_json():
    report = Diagnosis([Finding("a", "ok", "fine"), Finding("b", "error", "broken", "mend it")])
    text = str(report)
    assert text.splitlines()[0] == "diagnosis: 1 problem(s) found"
    assert text.index("broken") < text.index("fine") and "fix: mend it" in text
    assert json.loads(json.dumps(report.to_dict()))["ok"] is False
    with pytest.raises(ValueError, match="severity"):
        Finding("a", "fatal", "x")
    assert "nothing to check" in str(diagnose())


# ---- the command line: ddpm-edu diagnose --------------------------------------------------------

class FakePretrained:
    """What load_pretrained returns (.eps, .net, .schedule, .shape, .mean_type, .path), wrapping an
    oracle for the first MNIST test images (the images the command probes with)."""

    def __init__(self, shift=0):
        from ddpm_edu import load_mnist, to_model_range

        self.schedule, self.shape, self.mean_type, self.path = (
            linear_schedule(T, 1e-3, 0.2),
            (1, 28, 28),
            "eps",
            "fake",
        )
        x0 = to_model_range(load_mnist("test")[0][:16])[:, None]
        self.net = Oracle(self.schedule, x0, shift=shift)
        self.eps = self.net

    def __repr__(self):
        return "FakePretrained()"


@pytest.mark.parametrize("shift", [0, 1])
def test_diagnose_cli(monkeypatch, capsys, tmp_path, shift):
    import ddpm_edu.pretrained as pretrained
    from ddpm_edu.cli import main

    monkeypatch.setattr(pretrained, "load_pretrained", lambda name: FakePretrained(shift))
    code = main(["diagnose", "--checkpoint", "whatever", "--n", "16"])
    text = capsys.readouterr().out
    if shift == 0:
        assert code == 0 and "nothing wrong found" in text and "time-index" in text
    else:
        assert code == 1 and "0-based" in text
    np.save(tmp_path / "s.npy", (smooth_images() * 1.8).numpy())
    assert main(["diagnose", "--samples", str(tmp_path / "s.npy"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and any(f["check"] == "clipping" and f["severity"] == "error"
                                      for f in out["findings"])


def test_diagnose_cli_errors(capsys, tmp_path):
    from ddpm_edu.cli import main
    assert main(["diagnose"]) == 2 and "--checkpoint" in capsys.readouterr().err
    assert main(["diagnose", "--samples", str(tmp_path / "missing.npy")]) == 2
    assert "no such .npy" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["diagnose", "--help"], ["eval", "--help"]])
def test_help_texts_render(argv, capsys):
    from ddpm_edu.cli import main
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "diagnose" in out or "bits/dim" in out
