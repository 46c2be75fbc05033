"""Test harnesses: the fault and interruption suites used by tests and ``make bench``."""
