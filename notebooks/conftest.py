"""pytest settings for the notebooks, which run under strict nbval (``--nbval``, see
pyproject.toml).

stderr is not compared: library warnings (deprecations in a newer matplotlib, say) land there and
vary between installs without changing what a learner sees. Everything else — stdout, text/plain,
text/html, image/gif — is compared exactly, with one stated allowance: in a cell marked
``# NBVAL_APPROX`` a printed number with a decimal point may differ by a couple of units in its
last printed digit, because float32 kernels differ from CPU to CPU (the rule and its reasons:
``nbval_approx.py`` beside this file; its tests: ``tests/test_nbval_approx.py``). Cells whose output
legitimately varies carry ``# NBVAL_IGNORE_OUTPUT`` with a comment saying why. The notebooks' own
source files in ``src/`` are not test modules.
"""
from nbval.plugin import IPyNbCell

import nbval_approx

collect_ignore = ["src"]
nbval_approx.install(IPyNbCell)


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def pytest_report_header(config):
    import torch
    return f"torch CPU kernels: {torch.backends.cpu.get_cpu_capability()}"
