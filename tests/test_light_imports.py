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
