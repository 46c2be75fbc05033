"""A wrap's modes in one run: which modes, a cool-down between them, what a mode's light says, per-mode verdicts.

:mod:`rig.run.lifecycle` runs the modes in turn (each with its own dark baseline, switch-on and presses, the
sequence's phases for it and a switch-off); this module holds what is particular to there being several.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rig.claims.evidence import RunFacts
from rig.claims.judging import check_claims
from rig.claims.verdict import ClaimCheck, Verdict
from rig.errors import ConfigError
from rig.profile import ModeProfile, WrapProfile
from rig.sequence import Sequence

if TYPE_CHECKING:
    from rig.run.context import RunContext


@dataclass
class ModeResult:
    """One mode of a run: how far it got, its notes and its claims' checks."""

    name: str
    outcome: str  # COMPLETED, ABORTED, ERROR, or NOT RUN (the run stopped in an earlier mode)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    checks: list[ClaimCheck] = field(default_factory=list)


def overall_verdict(checks: list[ClaimCheck], outcome: str) -> str:
    """The wrap's verdict over every claim of every mode: FAIL if any claim FAILs, then MARGINAL, then PASS;
    a run that did not finish is DID NOT FINISH unless a claim already FAILed."""
    verdicts = {str(check.verdict) for check in checks}
    if "FAIL" in verdicts:
        return "FAIL"
    if outcome != "COMPLETED":
        return "DID NOT FINISH"
    if "MARGINAL" in verdicts:
        return "MARGINAL"
    if "PASS" in verdicts:
        return "PASS"
    return "NOT MEASURED"


def modes_to_test(profile: WrapProfile, sequence: Sequence) -> list[str]:
    """The sequence's ``mode`` if it names one, else every mode of the profile (a buyer asks about all)."""
    if sequence.mode:
        return [profile.mode(sequence.mode).name]
    return [mode.name for mode in profile.modes]


def check_sequence_modes(profile: WrapProfile, sequence: Sequence) -> None:
    """Every mode a sequence's phases name must be one of the profile's (a typo would silently skip a phase)."""
    have = [mode.name for mode in profile.modes]
    for name in sequence.named_modes():
        if name not in have:
            raise ConfigError(sequence.source, "phases", f"modes of the wrap profile {profile.source} "
                              f"({', '.join(have)})", name)


NOT_LIGHT_CLAIMS = ("surface_max_c",)  # claims a mode that gives no light is still judged on
NIR_FROM_NM = 760.0  # claimed lines at or above this are NIR
FOREIGN_LIGHT_FRACTION = 0.10  # a band the mode does not claim, above this share of its light: reported


def mode_light_notes(mode: ModeProfile, rows: list[dict[str, Any]], lit_seen: bool) -> list[str]:
    """What a mode's light says about the mode itself: it did not start, or it shows light it does not claim."""
    from rig.results.schema import number, truthy

    lit_phases = [r for r in rows if truthy(r.get("wrap_on")) and r.get("phase_kind") == "measure"]
    if lit_phases and not lit_seen:
        return [f"mode '{mode.name}' did not start: no light after switch-on and {mode.presses} presses"]
    claims = mode.claims
    peaks = [float(line.peak_nm) for line in claims.lines if line.peak_nm] + [
        p for p in (claims.red_peak_nm, claims.nir_peak_nm) if p]
    if not peaks or not lit_phases:
        return []
    claims_red = any(p < NIR_FROM_NM for p in peaks)
    claims_nir = any(p >= NIR_FROM_NM for p in peaks)
    notes = []
    for band, claimed, label in (("red", claims_red, "red"), ("nir", claims_nir, "NIR")):
        if claimed:
            continue
        lows = []
        for row in lit_phases:
            value, u = number(row.get(f"{band}_irradiance_mw_cm2")), number(row.get(f"{band}_irradiance_u_mw_cm2"))
            total = number(row.get("irradiance_mw_cm2"))
            if value is not None and total:
                lows.append((value - (u or 0.0)) / total)
        if lows and sorted(lows)[len(lows) // 2] > FOREIGN_LIGHT_FRACTION:
            notes.append(f"mode '{mode.name}' shows {label} light it does not claim")
    return notes


def judge_mode(mode: ModeProfile, rows: list[dict[str, Any]], facts: RunFacts, outcome: str, reason: str
               ) -> list[ClaimCheck]:
    """A mode's claims on its own rows, each marked with the mode. ``outcome``: the mode's (COMPLETED, ABORTED,
    ERROR, DID NOT START: its light claims FAIL, or NOT RUN: every claim NOT MEASURED)."""
    judged_as = {"NOT RUN": "ABORTED", "DID NOT START": "COMPLETED"}.get(outcome, outcome)
    checks = check_claims(mode.claims, rows, facts, judged_as, reason)
    if outcome == "DID NOT START":  # the mode gave no light at all: its light claims fail
        checks = [check if check.claim_id in NOT_LIGHT_CLAIMS else replace(
            check, measured=None, uncertainty=None, verdict=Verdict.FAIL,
            note=f"mode did not start: no light after switch-on and {mode.presses} presses") for check in checks]
    return [replace(check, mode=mode.name) for check in checks]


def cool_down_between_modes(ctx: RunContext, sequence: Sequence, next_mode: ModeProfile) -> None:
    """Wrap off (light checked) if the sequence left it on, then a cool-down until the skin-side probe is back
    within ``between_modes_within_c`` of where this mode started, for ``between_modes_max_s`` at most."""
    from rig.results.schema import number
    from rig.run.phases import verify_dark
    from rig.sequence import Phase

    phase = Phase(kind="cooldown", duration_s=sequence.between_modes_max_s, interval_s=5.0,
                  name="between modes")
    ctx.phase_state = {}
    if ctx.bench.switch.is_on:
        ctx.switch_off()
        verify_dark(ctx, Phase(kind="off", name="off (between modes)"))
    probe = f"{ctx.facts.skin_probe}_c"
    start = next((number(r.get(probe)) for r in ctx.rows if number(r.get(probe)) is not None), None)
    if start is None:
        ctx.event(f"no skin-side temperature: next mode '{next_mode.name}' starts without a cool-down")
        return
    target = start + sequence.between_modes_within_c
    ctx.phase_start, ctx.phase_duration_s = ctx.clock.monotonic(), phase.duration_s
    deadline = ctx.phase_start + phase.duration_s
    skin = None
    while True:
        row = ctx.sample(phase)
        skin = number(row.get(probe)) if row else skin
        if skin is not None and skin <= target:
            ctx.event(f"cool-down before mode '{next_mode.name}': skin side {skin:.1f} C, within "
                      f"{sequence.between_modes_within_c:g} C of its start ({start:.1f} C)")
            return
        if ctx.clock.monotonic() + phase.interval_s > deadline:
            ctx.event(f"cool-down before mode '{next_mode.name}' stopped at its limit "
                      f"({phase.duration_s:.0f} s): skin side {skin} C, started at {start:.1f} C; the next "
                      "mode starts warmer")
            return
        ctx.wait_until(ctx.clock.monotonic() + phase.interval_s)


FLICKER_CLAIMS = ("pulse_hz", "duty_pct", "flicker_pct")  # judged from the flicker capture (the pulse check)


def not_measured_on_this_chip(checks: list[ClaimCheck], ctx: RunContext) -> list[ClaimCheck]:
    """Claims the bench's chip could not measure (no estimate for its channels, no flicker capture): NOT MEASURED
    with the reason, never a FAIL for a band the estimate was not there to see."""
    from dataclasses import replace

    from rig.claims.verdict import Verdict

    flicker = ctx.bench.flicker_unavailable
    out = []
    for check in checks:
        note = flicker if check.claim_id in FLICKER_CLAIMS and flicker else ctx.estimate_note
        if note and check.measured is None and check.verdict is not Verdict.PASS:
            check = replace(check, verdict=Verdict.NOT_MEASURED, note=note)
        out.append(check)
    return out
