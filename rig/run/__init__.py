"""Running a test sequence: lifecycle, the phase registry, the per-row pipeline, its monitors and the modes.

- :mod:`rig.run.lifecycle`: :func:`run_sequence`, from lock to verdicts;
- :mod:`rig.run.modes`: several modes in one run (choosing, cool-down between, per-mode verdicts);
- :mod:`rig.run.setup`: the sensor settings, the samples.csv columns and the run log, before the phases;
- :mod:`rig.run.phases`: one class per phase kind (validation, body, colour, whether it is the session's light);
- :mod:`rig.run.context`: the per-row pipeline every phase reads through;
- :mod:`rig.run.sample`: one reading of the bench as a row;
- :mod:`rig.run.monitors`: interlocks and fault checks that see every row, and the ``[safety]`` limits;
- :mod:`rig.run.guard`: the switch and its light check, shared by run, ``read --on`` and calibrating;
- :mod:`rig.run.signals`: every catchable signal stops the run with the wrap off;
- :mod:`rig.run.manifest`: what ``run.json`` records about the machine and code;
- :mod:`rig.run.status`: where a running run is, for ``rig status``.

Names are imported on first use, so ``import rig.run.phases`` (the sequence loader) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"Progress": "rig.run.context", "RunAborted": "rig.run.signals", "RunResult": "rig.run.lifecycle",
            "run_sequence": "rig.run.lifecycle"}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rig.run' has no attribute {name!r}")
