"""The tools that make the chapters' shipped results run end to end, at a toy size, and resume.

tools/steps_quality.py (chapter 8) and tools/parameterisation_mnist.py (chapter 5) take an hour or
more at full size; here they run on a handful of digits, so that a change to the library cannot
break them unnoticed.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_steps_quality_writes_every_point_and_resumes(tmp_path):
    tool, out, work = _tool("steps_quality"), tmp_path / "q.json", tmp_path / "w"
    common = ["--n", "4", "--batch", "2", "--out", str(out), "--work", str(work)]
    assert tool.main(common + ["--ddim", "2", "--ddpm"]) == 0
    first = json.loads(out.read_text(encoding="utf-8"))
    assert [(p["sampler"], p["steps"]) for p in first["points"]] == [("ddim", 2)]
    assert first["n"] == 4 and first["real training digits"]["n"] == 4
    assert tool.main(common + ["--ddim", "2", "--ddpm", "2"]) == 0     # resumes: adds DDPM
    second = json.loads(out.read_text(encoding="utf-8"))
    assert second["points"][0] == first["points"][0]                    # not measured again
    assert [(p["sampler"], p["steps"]) for p in second["points"]] == [("ddim", 2), ("ddpm", 2)]


def test_parameterisation_mnist_writes_samples_and_a_picture(tmp_path):
    tool, out = _tool("parameterisation_mnist"), tmp_path / "p"
    assert tool.main(["--steps", "2", "--n", "2", "--out", str(out),
                      "--work", str(tmp_path / "w")]) == 0
    result = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert result["picture_rows"] == ["eps", "x0", "mu"] and out.with_suffix(".png").exists()
    assert result["train"]["steps"] == 2 and result["recipe"] == "mnist-small"
    for row in result["rows"].values():        # 2 steps: before the first point of the curve
        assert row["n"] == 2 and row["bpd_curve"] == {} and row["train_cpu_seconds"] > 0
