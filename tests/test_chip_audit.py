"""Issue 22: nothing outside ``rig/chips/`` and each chip's own driver and emulator names a chip's channels, gains
or count of channels; the rest of rig takes them from the :class:`~rig.chips.SpectralChip` it is handed.

The scan reads rig's source (ast, no imports) and fails on: a string literal that is a channel name of any
registered chip (``"Clear"``, ``"F8"``, ``"VIS"``...); a literal list of four or more of a chip's gains or gain
ratios in a row; a value repeated or a range over a chip's channel count (``(0.1,) * 10``, ``range(13)``) or a
length compared with it; a counts row indexed by a literal position (``counts[-2]``). A new chip's channel names
join the scan when it joins :data:`rig.chips.CHIPS`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import rig
from rig.chips import CHIPS
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.errors import FlickerUnavailable
from rig.hardware import flicker
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine

ROOT = Path(rig.__file__).parent
CHANNEL_NAMES = {name for chip in CHIPS.values() for name in chip.channels}
CHANNEL_COUNTS = {chip.n_channels for chip in CHIPS.values()}
# "NIR" is also the name of the near-infrared *band* (760-960 nm) these files print as a label
BAND_LABELS = {("run/modes.py", "NIR"), ("calibration/verify.py", "NIR")}


def module_file(target: str) -> str:
    """'rig.hardware.spectral:SpectralSensor' -> 'hardware/spectral.py' (relative to the rig package)."""
    return target.partition(":")[0].removeprefix("rig.").replace(".", "/") + ".py"


def allowed(relative: str) -> bool:
    """The chip seam itself and every chip's own driver and emulator module."""
    own = {module_file(getattr(chip, which)) for chip in CHIPS.values() for which in ("driver", "emulator")}
    return relative.startswith("chips/") or relative in own


def sources() -> list[tuple[str, ast.AST]]:
    files = sorted(p for p in ROOT.rglob("*.py") if not allowed(p.relative_to(ROOT).as_posix()))
    return [(p.relative_to(ROOT).as_posix(), ast.parse(p.read_text(encoding="utf-8"), str(p))) for p in files]


def numbers(node: ast.AST) -> list[float] | None:
    if isinstance(node, (ast.Tuple, ast.List)) and all(
            isinstance(e, ast.Constant) and type(e.value) in (int, float) for e in node.elts):
        return [float(e.value) for e in node.elts]
    return None


def counts_like(node: ast.AST) -> bool:
    """A name or attribute that holds a reading's values per channel (``counts``, ``reading.counts``, ``channels``)."""
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return any(word in name.lower() for word in ("counts", "channels"))


def runs_of(values: tuple[float, ...], length: int) -> set[tuple[float, ...]]:
    return {tuple(values[i:i + length]) for i in range(len(values) - length + 1)}


def findings(relative: str, tree: ast.AST) -> list[str]:
    """What in one module names a chip's channels, gains or channel count."""
    out = []
    gain_lists = [tuple(float(g) for g in values) for chip in CHIPS.values()
                  for values in (chip.gain_codes_x, chip.gain_ratio_vs_64x)]
    for node in ast.walk(tree):
        where = f"rig/{relative}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in CHANNEL_NAMES \
                and (relative, node.value) not in BAND_LABELS:
            out.append(f"{where}: channel name {node.value!r}")
        listed = numbers(node)
        if listed is not None and len(listed) >= 4 and any(tuple(listed) in runs_of(g, len(listed))
                                                           for g in gain_lists):
            out.append(f"{where}: a chip's gain list {listed}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            for seq, count in ((node.left, node.right), (node.right, node.left)):
                if isinstance(seq, (ast.Tuple, ast.List)) and isinstance(count, ast.Constant) \
                        and count.value in CHANNEL_COUNTS:
                    out.append(f"{where}: a value per channel of a {count.value}-channel chip")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value in CHANNEL_COUNTS:
            out.append(f"{where}: range over a {node.args[0].value}-channel chip")
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call) \
                and getattr(node.left.func, "id", None) == "len" and node.left.args \
                and counts_like(node.left.args[0]) \
                and any(isinstance(c, ast.Constant) and c.value in CHANNEL_COUNTS for c in node.comparators):
            out.append(f"{where}: a length compared with a chip's channel count")
        if isinstance(node, ast.Subscript) and counts_like(node.value):
            index = node.slice.operand if isinstance(node.slice, ast.UnaryOp) else node.slice
            if isinstance(index, ast.Constant) and isinstance(index.value, int):
                out.append(f"{where}: a channel by position ({ast.unparse(node)})")
    return out


def test_no_chip_facts_outside_the_seam():
    found = [f for relative, tree in sources() for f in findings(relative, tree)]
    assert not found, "take these from the chip value (rig.chips.SpectralChip):\n" + "\n".join(found)


@pytest.mark.parametrize(("code", "what"), [
    ('clear = row["Clear"]', "channel name 'Clear'"),
    ("level = counts[-2]", "a channel by position"),
    ("u = (0.1,) * 13", "13-channel chip"),
    ("gains = (0.5, 1, 2, 4, 8)", "gain list"),
    ("ok = len(counts) == 10", "channel count"),
    ("for c in range(10): pass", "range over a 10-channel chip"),
])
def test_the_scan_finds_each_kind(code, what):
    assert any(what in f for f in findings("x.py", ast.parse(code)))


def test_the_scan_leaves_the_chip_seam_and_drivers_alone():
    assert allowed("chips/as7343.py") and allowed("hardware/as7343.py") and allowed("sim/as7341.py")
    assert allowed("hardware/spectral.py") and not allowed("run/guard.py") and not allowed("hardware/flicker.py")


def test_the_as7341_flicker_capture_refuses_another_chips_sensor():
    # an AS7343 (DS001046: its flicker engine has other registers, FD_CFG0 at 0xDF) handed to the AS7341's capture:
    # refused before any register is written, so its registers are never poked with the AS7341's addresses
    chip = CHIPS["as7343"]
    emulator = chip.load("emulator")
    emulation = sys.modules[emulator.__module__]
    clock, bus = SimClock(), SimBus()
    bus.attach(chip.default_address, emulator(clock, FixedLight([SpectralLine(660.0, 20.0, 100.0)])))
    with emulation.install_sim_clock(clock):
        sensor = chip.load("driver")(bus.busio(), SpectralConfig(chip=chip.name), clock, "ND 2.0", 0.01)
        bus.counters.reset()
        with pytest.raises(FlickerUnavailable, match="AS7343"):
            flicker.capture(sensor, 0.1)
        with pytest.raises(FlickerUnavailable, match="AS7343"):
            flicker.capture_bursts(sensor)
    assert bus.counters.transactions == 0
