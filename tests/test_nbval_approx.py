"""The notebook comparer's own tests (notebooks/nbval_approx.py): equal, inside the tolerance,
outside it, different words around the same numbers, a number that became text, integers exact,
and the wiring into nbval (a marked cell passes with a last-digit flip, an unmarked one fails)."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "nbval_approx", ROOT / "notebooks" / "nbval_approx.py"
)
nbval_approx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbval_approx)
snap = nbval_approx.snap_numbers


def test_equal_text_is_unchanged():
    s = "bits/dim 1.573 [1.52, 1.63] from 64 images\n"
    assert snap(s, s) == s


@pytest.mark.parametrize("stored, new", [
    ("L_0 = 0.495 bits", "L_0 = 0.496 bits"),        # the flip that broke chapter 9
    ("L_0 = 0.495 bits", "L_0 = 0.493 bits"),        # two units below
    ("76.7 % confident", "76.9 % confident"),
    ("mass 1.745e-10", "mass 1.747e-10"),            # units of the mantissa's last digit
    ("x = -0.000", "x = 0.000"),
    ("mean 0.3000, std 0.1961", "mean 0.2999, std 0.1962"),
])
def test_inside_the_tolerance_is_snapped_to_the_stored_text(stored, new):
    assert snap(stored, new) == stored


@pytest.mark.parametrize("stored, new", [
    ("L_0 = 0.495 bits", "L_0 = 0.498 bits"),        # three units: outside
    ("76.7 % confident", "77.0 % confident"),
    ("mass 1.745e-10", "mass 1.745e-09"),            # a factor of ten is not a last-digit flip
    ("loss 0.50", "loss 0.5031"),                    # more digits printed than stored
])
def test_outside_the_tolerance_stays_different(stored, new):
    assert snap(stored, new) != stored


@pytest.mark.parametrize("stored, new", [
    ("L_0 = 0.495 bits", "L_0 = 0.495 nats"),        # different words around the same number
    ("L_0 = 0.495 bits", "L_0 = 0.496 nats"),        # ... even when the number agrees
    ("L_0 = 0.495 bits", "L_0 = nan bits"),          # a number that became text
    ("L_0 = 0.495 bits", "L_0 = 0.495 bits 0.1"),    # one number more
    ("L_0 = 0.495 bits", "L_0 = bits"),              # one number fewer
])
def test_text_differences_are_never_forgiven(stored, new):
    assert snap(stored, new) == new != stored


@pytest.mark.parametrize("stored, new", [
    ("612 of 1000 samples", "613 of 1000 samples"),  # counts are exact
    ("shape (64, 1, 28, 28)", "shape (64, 1, 28, 27)"),
    ("step 8000", "step 8001"),
    ("float32 tensor", "float64 tensor"),            # digits inside words are text
])
def test_integers_are_exact(stored, new):
    assert snap(stored, new) != stored


def test_last_digit_unit():
    assert nbval_approx.last_digit_unit("0.495") == nbval_approx.Decimal("0.001")
    assert nbval_approx.last_digit_unit("76.7") == nbval_approx.Decimal("0.1")
    assert nbval_approx.last_digit_unit("1.23e-05") == nbval_approx.Decimal("1e-7")
    assert nbval_approx.last_digit_unit("2e3") == nbval_approx.Decimal("1e3")


def test_marker_is_a_whole_comment_line():
    assert nbval_approx.is_approx_cell("x = 1\n# NBVAL_APPROX\nprint(x)")
    assert nbval_approx.is_approx_cell("  #  NBVAL_APPROX  ")
    assert not nbval_approx.is_approx_cell("print('# NBVAL_APPROX')")
    assert not nbval_approx.is_approx_cell("# NBVAL_APPROX_OTHER")


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _result(text):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


def test_outputs_are_paired_by_kind_and_order():
    stored = [_stream("a 0.495\n"), _result("0.12"), _result("0.50")]
    new = [_stream("a 0.496\n"), _result("0.13"), _result("0.58")]
    snapped = nbval_approx.snap_outputs(new, stored)
    assert snapped[0]["text"] == "a 0.495\n"
    assert snapped[1]["data"]["text/plain"] == "0.12"
    assert snapped[2]["data"]["text/plain"] == "0.58"  # 8 units off: left for nbval to report
    assert new[0]["text"] == "a 0.496\n"                 # the input is not modified


class _FakeCell:
    """Stands in for nbval's IPyNbCell: the original comparison is plain equality of outputs."""

    def __init__(self, source):
        self.cell = {"source": source}

    def compare_outputs(self, test, ref, skip_compare=None):
        return test == ref


def test_install_applies_the_allowance_to_marked_cells_only():
    class Cell(_FakeCell):
        pass

    nbval_approx.install(Cell)
    nbval_approx.install(Cell)  # idempotent
    stored, new = [_stream("0.495\n")], [_stream("0.496\n")]
    assert Cell("# NBVAL_APPROX\nprint(x)").compare_outputs(new, stored)
    assert not Cell("print(x)").compare_outputs(new, stored)
    assert not Cell("# NBVAL_APPROX\nprint(x)").compare_outputs([_stream("0.499\n")], stored)


def test_notebooks_conftest_installs_it():
    from nbval.plugin import IPyNbCell
    text = (ROOT / "notebooks" / "conftest.py").read_text()
    assert "nbval_approx.install(IPyNbCell)" in text
    assert "nbval-lax" not in (ROOT / "pyproject.toml").read_text()
    assert hasattr(IPyNbCell, "compare_outputs")
