"""Marks the real-browser test so a quick run can leave it out: ``pytest -m "not browser"``."""


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in headless Chromium (≈30–60 s)")


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/") and item.fspath.ext == ".py":
            item.add_marker(pytest.mark.browser)
