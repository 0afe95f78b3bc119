"""The install story: pyproject ↔ environment.yml in step, the README's two commands, CI, import
cost, and modules that import each other one way only."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11

# pip name → conda-forge name, where they differ
CONDA_NAME = {"torch": "pytorch-cpu"}


def _split(req: str):
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)", req)
    return m.group(1).lower(), m.group(3).replace(" ", "")


def _pyproject_requirements():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(data["dependencies"])
    for extra in ("viz", "course", "web", "dev"):
        reqs += [r for r in data["optional-dependencies"][extra] if not r.startswith("ddpm-edu")]
    return dict(_split(r) for r in reqs)


def _conda_requirements():
    out = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s*([A-Za-z0-9_.\-]+)\s*([<>=!].*)?$", line)
        if m and m.group(1) not in ("conda-forge", "pip", "python"):
            out[m.group(1).lower()] = (m.group(2) or "").replace(" ", "")
    return out


def test_environment_yml_matches_pyproject():
    pip, conda = _pyproject_requirements(), _conda_requirements()
    expected = {CONDA_NAME.get(k, k): v for k, v in pip.items()}
    missing = {k: v for k, v in expected.items() if k not in conda}
    assert not missing, f"environment.yml lacks {missing} that pyproject.toml requires"
    differ = {k: (v, conda[k]) for k, v in expected.items() if conda[k] != v}
    assert not differ, f"version bounds differ (pyproject, environment.yml): {differ}"
    extra = set(conda) - set(expected)
    assert not extra, f"environment.yml has {extra} that pyproject.toml does not list"


def _readme_command(name):
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        from readme_command import readme_command
    finally:
        sys.path.pop(0)
    return readme_command(name)


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one():
    text = (ROOT / "README.md").read_text()
    assert re.findall(r"<!-- command: (\w+) -->", text) == ["course", "test"]
    course, test = _readme_command("course"), _readme_command("test")
    for cmd in (course, test):
        # CPU torch first, then the project: a bare torch requirement would pull a CUDA build.
        assert cmd.index("torch==") < cmd.index("pip install -e")
    assert "jupyter lab" in course and "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_command.py test" in ci and "rm -rf .venv" in ci


def test_pytest_runs_the_notebooks_strictly():
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--nbval" in opts["addopts"].split() and "--nbval-lax" not in opts["addopts"]
    assert "notebooks" in opts["testpaths"]


def test_import_is_light_and_fast():
    # The import cost is that of the modules pulled in (torch alone takes ~1.2 s here), so assert on
    # those rather than on a wall-clock time; benchmarks/ and the closing notes carry the timings.
    # building the parser reads every command's help, the recipe list of `train --help` included
    code = (
        "import sys; import ddpm_edu, ddpm_edu.cli; ddpm_edu.cli.build_parser(); "
        "print([m for m in ('torch', 'numpy', 'matplotlib', 'ipywidgets', 'imageio') "
        "if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", f"import ddpm_edu pulled in {out.strip()}"


def test_public_names_resolve():
    import ddpm_edu
    for name in ddpm_edu.__all__:
        assert getattr(ddpm_edu, name) is not None, name


def _imports(path: Path, module: str, is_package: bool) -> set:
    """The ddpm_edu modules that ``module`` imports anywhere (also inside functions)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + [node.module] if node.module else base)
            # "from . import checkpoints" imports the submodule, not (only) the package
            found |= {f"{target}.{a.name}" for a in node.names} | {target}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_modules_import_each_other_one_way():
    files = {}
    for path in (ROOT / "ddpm_edu").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    graph = {m: {d for d in _imports(p, m, pkg) if d in files and d != m
                 and not m.startswith(d + ".")}  # a package's own __init__ is no dependency
             for m, (p, pkg) in files.items()}

    def reaches(start, goal, seen):
        return any(d == goal or (d not in seen and not seen.add(d) and reaches(d, goal, seen))
                   for d in graph[start])

    cycles = sorted(f"{m} -> {d}" for m in graph for d in graph[m] if reaches(d, m, set()))
    assert not cycles, f"modules that import each other (directly or through others): {cycles}"
