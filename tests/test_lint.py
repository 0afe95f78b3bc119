"""The code stays clean by the linter configured in pyproject.toml ([tool.ruff]): CI runs this."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    out = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, (
        f"ruff check found problems (fix them, or run `ruff check --fix`):\n{out.stdout[-3000:]}"
    )
