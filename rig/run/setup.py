"""What a run sets up before its phases: the sequence's sensor settings on the bench, the ``samples.csv`` columns
for this bench and deriver, and the run's own log file (``run.log``)."""

from __future__ import annotations

import logging
from pathlib import Path

from rig.results.schema import sample_columns
from rig.sequence import Sequence


def samples_header(bench, derive=None) -> list[str]:
    """The ``samples.csv`` columns for this bench (its chip's channels and its probes) and the deriver's
    (claimed lines add theirs: :attr:`rig.spectrum.derive.Deriver.columns`)."""
    from rig.pulse import PulseResult
    from rig.spectrum import Estimate

    derivers = derive if isinstance(derive, list | tuple) else [derive]
    derived = list(dict.fromkeys(column for one in derivers for column in (
        getattr(one, "columns", None) or [*Estimate().as_dict(), "calibration_id"])))
    pulse = list(PulseResult(0.0, 0.0, False).as_dict())
    return sample_columns(bench.chip.channels, derived, pulse, [p.name for p in bench.config.thermal.probes])


def apply_sensor_settings(bench, sequence: Sequence) -> None:
    """The sequence's ``[sensor]`` overrides of the bench's spectral settings (validated on loading)."""
    settings = sequence.sensor
    spectral = bench.spectral
    from dataclasses import replace

    merged = replace(spectral.config, **{key: value for key in ("gain_x", "atime", "astep")
                                         if (value := getattr(settings, key)) is not None})
    merged.validate(sequence.source, "sensor")  # against the bench's chip (loading checked the default chip's rules)
    if settings.gain_x is not None:
        spectral.set_gain(settings.gain_x)
    if settings.atime is not None or settings.astep is not None:
        spectral.set_timing(settings.atime if settings.atime is not None else spectral.config.atime,
                            settings.astep if settings.astep is not None else spectral.config.astep)
    if settings.auto_range is not None:
        spectral.config.auto_range = settings.auto_range


def attach_log(path: Path) -> logging.Handler | None:
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("rig")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def detach_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger("rig").removeHandler(handler)
        handler.close()
