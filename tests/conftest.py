"""Tests marked ``hardware`` need the real bench: they run only with RIG_HARDWARE=1 (``make test-hardware``)."""

import os

import pytest

# Whole-command suites (many simulated runs each): `make test` runs them; `pytest -m "not slow"` (the quick check
# before a stop, capped at 60 s) leaves them out.
SLOW_MODULES = {"test_first_hour", "test_readme_commands", "test_terminal_output", "test_signal_storms",
                "test_compare_report", "test_calibration_files", "test_run_cli", "test_bad_input", "test_faults",
                "test_multimode", "test_analyze_cli", "test_field", "test_uniformity", "test_spectral_calibration"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    if os.environ.get("RIG_HARDWARE") == "1":
        return
    skip = pytest.mark.skip(reason="needs the real bench: make test-hardware (RIG_HARDWARE=1) on the Pi")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


class CliResult:
    """What a finished `rig` command left: its exit code and what it printed (as subprocess.run would give)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def rig_cli(argv, cwd=None) -> CliResult:
    """Run the real `rig` command line (``rig.cli.main``) in this process, in ``cwd``, capturing its output.

    The same code path as ``python -m rig.cli`` without a new interpreter per call (the suite stays fast);
    the tests that need a separate process (signals, kill -9, locks) keep using subprocesses.
    """
    import contextlib
    import io

    from support.handlers import handlers_restored

    from rig.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with handlers_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(arg) for arg in argv])
            except SystemExit as exit_:  # argparse refusing an option
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        os.chdir(previous)
    return CliResult(code, out.getvalue(), err.getvalue())
