"""Tests marked ``hardware`` need the real bench: they run only with RIG_HARDWARE=1 (``make test-hardware``)."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RIG_HARDWARE") == "1":
        return
    skip = pytest.mark.skip(reason="needs the real bench: make test-hardware (RIG_HARDWARE=1) on the Pi")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)
