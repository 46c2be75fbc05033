"""rig: a bench-test rig for red-light therapy LED wraps."""

__version__ = "0.1.0"
