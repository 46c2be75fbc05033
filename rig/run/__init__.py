"""Running a test sequence: lifecycle, the phase registry, the per-row pipeline and its monitors.

- :mod:`rig.run.lifecycle`: :func:`run_sequence`, from lock to verdicts;
- :mod:`rig.run.phases`: one class per phase kind (validation and body);
- :mod:`rig.run.context`: the per-row pipeline every phase reads through;
- :mod:`rig.run.monitors`: interlocks and fault checks that see every row;
- :mod:`rig.run.signals`: every catchable signal stops the run with the wrap off;
- :mod:`rig.run.manifest`: what ``run.json`` records about the machine and code.
"""

from rig.run.context import Progress
from rig.run.lifecycle import RunResult, run_sequence
from rig.run.signals import RunAborted

__all__ = ["Progress", "RunAborted", "RunResult", "run_sequence"]
