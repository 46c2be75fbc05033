"""Stable claim ids (``irradiance_mw_cm2``) for summary rows, old and new.

New ``summary.csv`` files carry a ``claim_id`` column beside the display label
``claim``; older ones have only the label. The labels, ids and short names come
from the spec table (:data:`rig.claims.specs.CLAIM_SPECS`), so compare columns
and trends are keyed the same way for both.
"""

from __future__ import annotations

import re

from rig.claims.specs import LABEL_TO_ID, SHORT_NAMES

ORDER = list(SHORT_NAMES)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def claim_id(label: str, unit: str = "", given: str | None = None) -> str:
    """The stable id of a summary row: its ``claim_id`` if given, else the mapped label, else label + unit."""
    if given:
        return given
    if label in LABEL_TO_ID:
        return LABEL_TO_ID[label]
    unit_slug = _slug(unit.replace("%", "pct").replace("/", "_"))
    base = _slug(label) or "claim"
    return base if not unit_slug or base.endswith(unit_slug) else f"{base}_{unit_slug}"


LINE_CLAIM = re.compile(r"^line_(\d+(?:p\d+)?)nm_(peak_nm|irradiance_mw_cm2|share_pct)$")
LINE_WHAT = {"peak_nm": ("peak", "nm"), "irradiance_mw_cm2": ("irradiance", "mW/cm²"), "share_pct": ("share", "%")}


def short_name(identifier: str) -> tuple[str, str]:
    """A short name and unit for a claim id (``("irradiance", "mW/cm²")``, ``line_660nm_peak_nm``: ``("660 nm
    peak", "nm")``); unknown ids: the id, no unit."""
    line = LINE_CLAIM.match(identifier)
    if line:
        what, unit = LINE_WHAT[line.group(2)]
        return f"{line.group(1).replace('p', '.')} nm {what}", unit
    return SHORT_NAMES.get(identifier, (identifier.replace("_", " "), ""))


def sort_key(identifier: str) -> tuple[int, str]:
    """Known claims in their usual order, claimed lines after the peaks (by wavelength), others after them."""
    line = LINE_CLAIM.match(identifier)
    if line:
        nm = float(line.group(1).replace("p", "."))
        return ORDER.index("nir_peak_nm"), f"{nm:07.2f} {list(LINE_WHAT).index(line.group(2))}"
    return (ORDER.index(identifier), "") if identifier in ORDER else (len(ORDER), identifier)
