"""The input files a test runs `rig run` on, written as TOML text from the values the test states.

``entry("strings", name="red", peak_nm=660.0)`` is one ``[[strings]]`` table; :func:`phase`, :func:`led_string`
and :func:`wrap_mode` name the common ones. The text is what a user would write, one ``key = value`` a line, so
a test may still edit it (``.replace``) to make a bad file.
"""

from __future__ import annotations

import json
from pathlib import Path


def toml_value(value) -> str:
    """``value`` as TOML: strings quoted, floats as Python writes them (3.0), lists of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    return repr(value)


def settings(**fields) -> str:
    """``key = value`` lines in the order given, leaving out the ``None`` ones (a wrap's or a sequence's name, a
    wrap's thermal and drift settings, a mode's claims)."""
    return "".join(f"{key} = {toml_value(value)}\n" for key, value in fields.items() if value is not None)


def entry(array: str, **fields) -> str:
    """One ``[[array]]`` table with ``fields`` (see :func:`settings`)."""
    return f"[[{array}]]\n" + settings(**fields)


def phase(kind: str, **fields) -> str:
    """One phase of a sequence file: ``phase("measure", duration_s=20.0, interval_s=2.0)``."""
    return entry("phases", kind=kind, **fields)


def led_string(name: str, peak_nm: float, fwhm_nm: float, irradiance_mw_cm2: float) -> str:
    """One LED string of a simulated wrap: its peak, width and irradiance at the sensor."""
    return entry("strings", name=name, peak_nm=peak_nm, fwhm_nm=fwhm_nm, irradiance_mw_cm2=irradiance_mw_cm2)


def wrap_mode(name: str, strings: list[str], **fields) -> str:
    """One mode of a simulated wrap: the strings it lights (and e.g. ``pulse_hz``, ``duty``)."""
    return entry("modes", name=name, strings=strings, **fields)


def profile_mode(name: str, presses: int | None = None, **claims) -> str:
    """One mode of a wrap profile: its button presses from the start mode and the maker's claims for it."""
    return entry("modes", name=name, presses=presses) + "[modes.claims]\n" + settings(**claims)


def write_run_files(folder: Path, profile: str, sequence: str, sim_wrap: str) -> list[str]:
    """Write p.toml, s.toml and w.toml into ``folder``; the `rig run` arguments that name them."""
    for name, text in (("p.toml", profile), ("s.toml", sequence), ("w.toml", sim_wrap)):
        (folder / name).write_text(text)
    return ["--wrap", str(folder / "p.toml"), "--sequence", str(folder / "s.toml"),
            "--sim-wrap", str(folder / "w.toml")]
