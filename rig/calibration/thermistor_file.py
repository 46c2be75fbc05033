"""Thermistor calibration files (``rig calibrate thermistor``): one probe's fitted NTC curve and its points.

One validator (:meth:`ThermistorFile.validate`) for the writer and the reader: every value in its range
(:mod:`rig.calibration.rules`), the points falling with temperature, and the coefficients an NTC curve over
-20..120 C (:func:`rig.hardware.ntc.curve_problem`). The coefficients go into the probe's ``[[thermal.probes]]`` table
of the bench config, which checks the curve again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rig.calibration.rules import Rule, check, check_present, date, number, ranged, text, values
from rig.config import build_dataclass, load_toml
from rig.errors import ConfigError, RigError
from rig.hardware.ntc import curve_problem

MODELS = ("beta", "steinhart-hart")


@dataclass
class ThermistorFile:
    """A probe's fit: Beta (``r0_ohm``, ``t0_c``, ``beta_k``) or Steinhart-Hart (``sh_a``, ``sh_b``, ``sh_c``)."""

    probe: str = ranged(text(required=True, what="a probe name"), "")
    created: str = ranged(date(required=True), "")
    model: str = ranged(Rule("'beta' or 'steinhart-hart'", lambda v: v in MODELS, required=True), "beta")
    r0_ohm: float = ranged(number(0, 1e8, open_low=True, or_zero=True, what="a resistance (ohm)"), 0.0)
    t0_c: float = ranged(number(-60, 200, what="a temperature (C)"), 25.0)
    beta_k: float = ranged(number(0, 1e5, or_zero=True, what="a Beta (K)"), 0.0)
    sh_a: float = ranged(number(-1, 1, what="a Steinhart-Hart coefficient"), 0.0)
    sh_b: float = ranged(number(-1, 1, what="a Steinhart-Hart coefficient"), 0.0)
    sh_c: float = ranged(number(-1, 1, what="a Steinhart-Hart coefficient"), 0.0)
    reference_c: list[float] = ranged(values(number(-60, 200, what="a temperature (C)")), default_factory=list)
    resistance_ohm: list[float] = ranged(values(number(0, 1e8, open_low=True, what="a resistance (ohm)")),
                                         default_factory=list)
    residuals_c: list[float] = ranged(values(number(-50, 50, what="a residual (C)")), default_factory=list)
    source: str = ""

    def coefficients(self) -> dict[str, float]:
        if self.model == "beta":
            return {"r0_ohm": self.r0_ohm, "t0_c": self.t0_c, "beta_k": self.beta_k}
        return {"sh_a": self.sh_a, "sh_b": self.sh_b, "sh_c": self.sh_c}

    def validate(self) -> ThermistorFile:
        check(self, self.source)
        if not (len(self.reference_c) == len(self.resistance_ohm) == len(self.residuals_c) >= 2):
            raise ConfigError(self.source, "reference_c", "as many temperatures, resistances and residuals (>= 2)",
                              [len(self.reference_c), len(self.resistance_ohm), len(self.residuals_c)])
        falling = falling_problem(self.reference_c, self.resistance_ohm)
        if falling is not None:
            raise ConfigError(self.source, f"resistance_ohm[{falling}]", "resistances falling as temperature rises "
                              "(an NTC)", self.resistance_ohm[falling])
        problem = curve_problem(self.model, self.coefficients())
        if problem is not None:
            raise ConfigError(self.source, "beta_k" if self.model == "beta" else "sh_a/sh_b/sh_c",
                              f"an NTC curve over -20..120 C ({problem})")
        return self


def falling_problem(reference_c: list[float], resistance_ohm: list[float]) -> int | None:
    """Index of the first point (in temperature order) whose resistance is not below the one of the next
    colder point, or None when resistance falls strictly with temperature."""
    order = sorted(range(len(reference_c)), key=lambda i: reference_c[i])
    for colder, warmer in zip(order, order[1:], strict=False):
        if not resistance_ohm[warmer] < resistance_ohm[colder]:
            return warmer
    return None


def load_thermistor_file(path: str | Path) -> ThermistorFile:
    data = load_toml(path)
    check_present(ThermistorFile, data, str(path))
    loaded = build_dataclass(ThermistorFile, data, str(path))
    loaded.source = str(path)
    return loaded.validate()


def save_thermistor_file(record: ThermistorFile, path: str | Path) -> Path:
    """Checked with the reader's validator first: nothing is written when a value is out of range."""
    from rig.calibration.toml_text import to_toml
    from rig.results.writer import write_text_atomic

    path = Path(path)
    try:
        replace(record, source=str(path)).validate()
    except ConfigError as error:
        got = f" (got {error.got!r})" if error.got is not None else ""
        raise RigError(f"{path}: not written: '{error.key}': expected {error.expected}{got}") from None
    other = ("sh_a", "sh_b", "sh_c") if record.model == "beta" else ("r0_ohm", "t0_c", "beta_k")
    data = {k: v for k, v in asdict(record).items() if k != "source" and k not in other}  # the model's keys only
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, to_toml(data))
    except OSError as error:
        raise RigError(f"cannot write {path}: {error.strerror or error}") from error
    return path
