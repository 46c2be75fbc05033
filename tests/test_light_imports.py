"""What the Pi imports on the sampling path: no pandas or matplotlib for a run, no numpy to read a sequence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "matplotlib", "scipy")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return {line.split(".")[0] for line in out.split()}


def test_loading_a_sequence_imports_no_numpy():
    loaded = _modules_after("from rig.sequence import load_sequence\n"
                            "load_sequence('rig/data/example_sequence.toml')")
    assert "numpy" not in loaded and not loaded & set(HEAVY)


def test_the_run_machinery_imports_no_pandas_or_matplotlib():
    loaded = _modules_after("import rig.run.lifecycle, rig.cli.run, rig.hardware.real")
    assert not loaded & {"pandas", "matplotlib"}, loaded & {"pandas", "matplotlib"}


def test_a_simulated_run_imports_no_pandas_matplotlib_or_scipy(tmp_path):
    """A whole `rig run` on the simulated bench (estimating every sample): scipy only where a fit needs it (the rare
    trust-region refit, the spectral calibration), never on a run of a wrap the estimator separates."""
    (tmp_path / "s.toml").write_text('name = "t"\n[[phases]]\nkind = "dark"\nduration_s = 2\ninterval_s = 1\n'
                                     '[[phases]]\nkind = "on"\n[[phases]]\nkind = "measure"\nduration_s = 3\n'
                                     'interval_s = 1\n[[phases]]\nkind = "off"\n')
    loaded = _modules_after("from rig.cli import main\n"
                            f"code = main(['run', '--sim', '--wrap', 'rig/data/example_profile.toml', '--sequence', "
                            f"{str(tmp_path / 's.toml')!r}, '--out', {str(tmp_path / 'out')!r}])\n"
                            "assert code in (0, 1), code")
    assert list((tmp_path / "out").glob("*/samples.csv"))  # it ran
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
