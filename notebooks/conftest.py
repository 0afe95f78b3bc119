"""pytest settings for the notebooks, which run under strict nbval (``--nbval``, see pyproject.toml).

stderr is not compared: library warnings (deprecations in a newer matplotlib, say) land there and
vary between installs without changing what a learner sees. Everything else — stdout, text/plain,
text/html, image/gif — is compared exactly; cells whose output legitimately varies carry
``# NBVAL_IGNORE_OUTPUT`` with a comment saying why. The notebooks' own source files in ``src/``
are not test modules.
"""

collect_ignore = ["src"]


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
