"""A register-level AS7343 emulator: the real Adafruit ``adafruit_as7343`` driver and rig's reader talk to it.

What it models (DS001046, register names as in :mod:`rig.chips.as7343`):

- two register banks: CFG0.REG_BANK = 1 reaches 0x58-0x7F (AUXID, REVID, ID = 0x81, GPIO, CFG10, CFG12), 0 the
  registers from 0x80 up; CFG0 answers in both. The other bank's addresses read 0 and ignore writes (so a driver
  that forgets to switch fails its ID check or loses its settings);
- CONTROL.SW_RESET (self-clearing) restores the reset values (DS001046 v6-00 register tables): ENABLE 0,
  ATIME 0, ASTEP 999, AGAIN 9 (256x), CFG20.auto_smux 0 (6 channels);
- ENABLE.PON / SP_EN; CFG1 AGAIN (codes 0..12 = 0.5x..2048x); ATIME, ASTEP (t_int = (A+1)(S+1) x 2.78 us);
- auto-SMUX (CFG20 bits 6:5 = 0, 2, 3 -> 1, 2, 3 cycles; 6, 12, 18 values): a measurement starting at SP_EN's
  rising edge runs its cycles back to back (SMUX switching time not modelled), each integrating t_int on the
  simulated clock, and repeats while SP_EN stays set; cycle j's six ADCs hold
  :data:`~rig.chips.as7343.AUTO_SMUX_CYCLES`\\[j];
- STATUS2.AVALID while a completed measurement is unread, with ASAT_ANALOG / ASAT_DIGITAL of it; reading
  ASTATUS (0x94) latches the 36 data bytes (0x95-0xB8; "reading these bytes consecutively ensures that the
  data is concurrent") and sets ASTATUS.ASAT_STATUS and AGAIN_STATUS;
  STATUS (0x93) holds ASAT, cleared by writing ones.
Not modelled: manual SMUX (CFG6), flicker detection and its FIFO, wait time, interrupts, the LED driver
(registers are stored and read back only).

Counts come from the light at the sensor in each cycle's window, times each channel's responsivity *of this
unit* (drawn from the chip's production spread around the typical table, :func:`draw_unit`), the unit's gain
ratio and the integration time, plus dark counts and (unless ``noise=False``) seeded shot and read noise.
Saturation: more than one count per integration step saturates the analog front end (the data read full
scale); 65535 is the digital limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import types
from collections.abc import Iterator

import numpy as np

from rig.chips.as7343 import AUTO_SMUX_CYCLES, AUTO_SMUX_MODES, CHIP, ID_VALUE, Bit, Reg
from rig.chips.model import Role, SpectralChip
from rig.sim.bus import SimI2CDevice
from rig.sim.optics import LightSource
from rig.sim.sensor_unit import SensorSpread, SensorUnit, draw_passband, shifted_passband

N_DATA = 18  # data registers: 18 x 16 bit from DATA_0
RESET_ASTEP = 999
RESET_AGAIN = 9


def draw_unit(unit_id: str, seed: int = 0, scale: float = 1.0, chip: SpectralChip = CHIP, typical=None) -> SensorUnit:
    """The part labelled ``unit_id`` in lot ``seed``, drawn from ``chip.spread`` around its typical table.

    Per channel c with typical peak lambda_c: R_c(lambda) = g_c x [T_c(lambda_c + (lambda - lambda_c - d_c) / s_c)
    + (u_c - 1) x floor x peak_c x B(lambda)] x (1 + k_c clip((lambda - lambda_c) / 100 nm, -1, 1)), with
    sensitivity g_c (log-normal), centre offset d_c (normal, truncated at the limit), width s_c, skew k_c, and
    the out-of-band level u_c log-uniform in ``spread.out_of_band_range`` x the table's floor on the floor's band B. The
    broadband channel keeps its centre and width (no filter). The skew is held constant beyond 100 nm from the
    peak, so it tilts the passband without scaling the far out-of-band level by more than k_c. Gain ratios are
    off by a factor each (64x: 1): within the datasheet's min/max per gain (4-sigma limits) where the chip
    declares them, else log-normal ``gain_rel`` truncated at ``gain_limit_rel``.
    ``scale`` multiplies every spread (0: the typical part, for diagnostics only).
    """
    spread = chip.spread
    from rig.spectrum.responsivity import Responsivity

    typical = typical if typical is not None else Responsivity.load(chip=chip)
    digest = hashlib.sha256(f"{chip.name}/{unit_id}/{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    wl = typical.wavelengths_nm
    low, high = spread.table_floor_band_nm
    band = ((wl >= low) & (wl <= high)).astype(float)
    broadband = chip.name_of(Role.BROADBAND)
    columns, gains, offsets = [], [], []
    for c, name in enumerate(chip.channels):
        curve = typical.matrix[:, c]
        peak_nm = float(wl[int(np.argmax(curve))])
        gain, offset, width, skew = draw_passband(rng, scale, spread.sensitivity_rel, spread.centre_sigma_nm,
                                                  spread.centre_limit_nm, spread.width_rel, spread.skew_per_100nm)
        lo, hi = np.log(spread.out_of_band_range)
        oob = float(np.exp(scale * rng.uniform(lo, hi)))
        if name == broadband:
            offset, width, skew = 0.0, 1.0, skew * 0.5
        shaped = shifted_passband(wl, curve, peak_nm, offset, width)
        if name in spread.out_of_band_channels:  # the floor scaled by u_c (before the tilt: u_c x floor x tilt)
            shaped = shaped + (oob - 1.0) * spread.table_floor_rel * curve.max() * band
        shaped = shaped * np.clip(1.0 + skew * np.clip((wl - peak_nm) / 100.0, -1.0, 1.0), 0.0, None)
        columns.append(gain * np.clip(shaped, 0.0, None))
        gains.append(gain)
        offsets.append(offset)
    gain_factors = []
    for code, (x, typical_ratio) in enumerate(zip(chip.gain_codes_x, chip.gain_ratio_vs_64x, strict=True)):
        if x == 64:
            gain_factors.append(1.0)
            continue
        low, high = 1 - spread.gain_limit_rel, 1 + spread.gain_limit_rel
        sigma = spread.gain_rel
        if spread.gain_ratio_limits:  # the datasheet's min/max per gain as 4-sigma limits
            low, high = (limit / typical_ratio for limit in spread.gain_ratio_limits[code])
            sigma = np.log(high / low) / 8
        gain_factors.append(float(np.clip(np.exp(rng.normal(0.0, sigma * scale)), low, high)))
    table = type(typical)(wl, np.column_stack(columns), f"simulated {chip.name} unit {unit_id!r} (lot seed {seed})",
                          typical.chip)
    return SensorUnit(unit_id, table, tuple(gain_factors), tuple(gains), tuple(offsets))


# a simulated wrap's [sensor] keys (rig.sim.sensor_unit.SensorSpread) that mean the same on this chip's spread
_SPREAD_KEYS = {"centre_nm": "centre_sigma_nm", "centre_limit_nm": "centre_limit_nm", "width_rel": "width_rel",
                "skew_per_100nm": "skew_per_100nm", "sensitivity_rel": "sensitivity_rel", "gain_rel": "gain_rel",
                "gain_limit_rel": "gain_limit_rel"}


def unit_from_spread(unit_id: str, seed: int = 0, spread: SensorSpread | None = None) -> SensorUnit:
    """The AS7343 part labelled ``unit_id`` in lot ``seed``, drawn with a simulated wrap's ``[sensor]`` spread.

    ``scale`` scales the chip's own spread (:attr:`CHIP.spread`); a key set away from its default replaces the
    chip's value of the same meaning; ``out_of_band_low`` / ``out_of_band_high`` set its leakage range (x its
    table's floor). ``out_of_band_tilt`` has no meaning here: setting it is a ValueError, never silently ignored."""
    if spread is None:
        return draw_unit(unit_id, seed)
    default = SensorSpread()
    if spread.out_of_band_tilt != default.out_of_band_tilt:
        raise ValueError("[sensor] out_of_band_tilt is an AS7341 setting; the AS7343's out-of-band level is drawn "
                         f"in {CHIP.spread.out_of_band_range} x its table's floor (leave the key out)")
    changed = {ours: getattr(spread, key) for key, ours in _SPREAD_KEYS.items()
               if getattr(spread, key) != getattr(default, key)}
    if (spread.out_of_band_low, spread.out_of_band_high) != (default.out_of_band_low, default.out_of_band_high):
        changed["out_of_band_range"] = (spread.out_of_band_low, spread.out_of_band_high)
    chip = dataclasses.replace(CHIP, spread=dataclasses.replace(CHIP.spread, **changed)) if changed else CHIP
    return draw_unit(unit_id, seed, spread.scale, chip)


class AS7343Emulator(SimI2CDevice):
    """The chip. ``light`` says what reaches the sensor; ``seed`` makes noise repeatable.

    ``unit``: the part (its curves and gain ratios); default a unit drawn from the production spread with label
    "sim" in lot ``seed``. ``responsivity`` overrides the unit's curves (tests of the emulator's arithmetic).
    ``noise=False``: no shot or read noise (dark counts stay), for tests that check counts to rounding.
    """

    def __init__(self, clock, light: LightSource, responsivity=None, seed: int = 0, dark_counts: float = 1.5,
                 read_noise_counts: float = 1.0, unit: SensorUnit | None = None, noise: bool = True) -> None:
        super().__init__()
        self.chip = CHIP
        self.clock = clock
        self.light = light
        self.unit = unit or draw_unit("sim", seed)
        self.responsivity = responsivity or self.unit.responsivity
        if self.responsivity.matrix.shape[1] != self.chip.n_channels:
            raise ValueError(f"the AS7343 emulator needs a {self.chip.n_channels}-channel unit "
                             f"({', '.join(self.chip.channels)}), got {self.responsivity.matrix.shape[1]} columns: "
                             "draw it with rig.sim.as7343.draw_unit")
        self.rng = np.random.default_rng(seed)
        self.dark_counts = dark_counts
        self.read_noise_counts = read_noise_counts
        self.noise = noise
        self._adc_channels = [[self.chip.index(name) for name in cycle] for cycle in AUTO_SMUX_CYCLES]
        self.frozen = False  # fault: the data registers stop updating
        self.integrations_started = 0  # measurements started (each of 1-3 cycles)
        self.integrations_read = 0  # measurements latched by an ASTATUS read
        self.reset()

    def reset(self) -> None:
        """Power-on / SW_RESET state."""
        self.registers = bytearray(256)  # bank 0 (0x80-0xFF); 0x00-0x7F unused
        self.bank1 = bytearray(0x80)  # 0x58-0x7F when CFG0.REG_BANK is set
        self.bank1[Reg.ID] = ID_VALUE
        self.registers[Reg.ASTEP_L], self.registers[Reg.ASTEP_H] = RESET_ASTEP & 0xFF, RESET_ASTEP >> 8
        self.registers[Reg.CFG1] = RESET_AGAIN
        self.started_at_s: float | None = None
        self.t_int_at_start_ms = 0.0
        self.cycles_at_start = 1
        self.latched = [0] * N_DATA
        self.latched_index: int | None = None
        self._pending: tuple[int, list[int], int] | None = None

    # --- configuration ---------------------------------------------------------------------------------------
    @property
    def atime(self) -> int:
        return self.registers[Reg.ATIME]

    @property
    def astep(self) -> int:
        return self.registers[Reg.ASTEP_L] | self.registers[Reg.ASTEP_H] << 8

    @property
    def gain_code(self) -> int:
        return min(self.registers[Reg.CFG1] & Bit.AGAIN, len(self.chip.gain_codes_x) - 1)

    @property
    def cycles(self) -> int:
        mode = (self.registers[Reg.CFG20] & Bit.AUTO_SMUX_MASK) >> Bit.AUTO_SMUX_SHIFT
        return AUTO_SMUX_MODES.get(mode, 1)

    def _bank1(self) -> bool:
        return bool(self.registers[Reg.CFG0] & Bit.REG_BANK)

    # --- register access ---------------------------------------------------------------------------------------
    def _unreachable(self, register: int) -> bool:
        """Registers the selected bank does not reach (CFG0 is reachable from both)."""
        if register == Reg.CFG0:
            return False
        return register >= 0x80 if self._bank1() else register < 0x80

    def write_register(self, register: int, value: int) -> None:
        if self._unreachable(register):
            return
        if register < 0x80:
            if register >= 0x58 and register != Reg.ID:
                self.bank1[register] = value
            return
        if register == Reg.CONTROL and value & Bit.SW_RESET:
            self.reset()
            return
        if register == Reg.STATUS:  # write 1s to clear
            self.registers[Reg.STATUS] &= ~value & 0xFF
            return
        if register in (Reg.STATUS2, Reg.ASTATUS) or Reg.DATA_0 <= register < Reg.DATA_0 + 2 * N_DATA:
            return  # read-only
        if register == Reg.ENABLE:
            was_running = self.registers[Reg.ENABLE] & Bit.SP_EN
            if value & Bit.SP_EN and value & Bit.PON and not was_running:
                self.started_at_s = self.clock.monotonic()
                self.t_int_at_start_ms = self.chip.integration_time_ms(self.atime, self.astep)
                self.cycles_at_start = self.cycles
                self.latched_index = None
                self._pending = None
                self.integrations_started += 1
            elif not value & Bit.SP_EN or not value & Bit.PON:
                self.started_at_s = None
        self.registers[register] = value

    def read_register(self, register: int) -> int:
        if self._unreachable(register):
            return 0
        if register < 0x80:
            return self.bank1[register] if register >= 0x58 else 0
        if register == Reg.STATUS2:
            return self._status2()
        if Reg.ASTATUS <= register < Reg.DATA_0 + 2 * N_DATA:
            return self._data_bytes()[register - Reg.ASTATUS]
        return self.registers[register]

    def read_block(self, register: int, length: int) -> bytes:
        if register == Reg.ASTATUS and not self._unreachable(register):
            self._latch()
        return super().read_block(register, length)

    # --- measurement -------------------------------------------------------------------------------------------
    def _completed(self) -> int | None:
        """Index of the most recent completed measurement while SP_EN is on (0 = the first)."""
        if self.started_at_s is None:
            return None
        period_s = self.cycles_at_start * self.t_int_at_start_ms / 1000.0
        done = int((self.clock.monotonic() - self.started_at_s) / period_s + 1e-9)
        return done - 1 if done >= 1 else None

    def _result(self, index: int) -> tuple[list[int], int]:
        """Data registers and saturation flags of measurement ``index`` (computed once)."""
        if self._pending is None or self._pending[0] != index:
            values, flags = self._measure(index)
            self._pending = (index, values, flags)
        return self._pending[1], self._pending[2]

    def _status2(self) -> int:
        index = self._completed()
        if index is not None and index != self.latched_index:
            return Bit.AVALID | self._result(index)[1]
        return self.registers[Reg.STATUS2] & (Bit.ASAT_ANALOG | Bit.ASAT_DIGITAL)

    def _latch(self) -> None:
        index = self._completed()
        if index is None or index == self.latched_index or self.frozen:
            return
        self.latched_index = index
        self.integrations_read += 1
        self.latched, flags = self._result(index)
        self.registers[Reg.STATUS2] = flags
        self.registers[Reg.ASTATUS] = (Bit.ASAT if flags else 0) | (self.gain_code & Bit.AGAIN_STATUS)
        if flags:
            self.registers[Reg.STATUS] |= Bit.ASAT

    def gain_ratio(self, code: int) -> float:
        """This unit's sensitivity at gain ``code`` relative to 64x (the chip's ratio x the unit's factor)."""
        return self.chip.gain_ratio_vs_64x[code] * self.unit.gain_factors[code]

    def _measure(self, index: int) -> tuple[list[int], int]:
        t_int_s = self.t_int_at_start_ms / 1000.0
        start = self.started_at_s + index * self.cycles_at_start * t_int_s
        steps = (self.atime + 1) * (self.astep + 1)
        full_scale = self.chip.full_scale_counts(self.atime, self.astep)
        scale = self.gain_ratio(self.gain_code) * self.t_int_at_start_ms
        values, analog, digital = [0] * N_DATA, False, False
        for cycle in range(self.cycles_at_start):
            t0 = start + cycle * t_int_s
            per_channel = np.zeros(self.chip.n_channels)
            for line in self.light.lines_between(t0, t0 + t_int_s):
                per_channel += line.irradiance_uw_cm2 * self.responsivity.line_response(line.peak_nm, line.fwhm_nm)
            signal = per_channel[self._adc_channels[cycle]] * scale + self.dark_counts
            noisy = signal
            if self.noise:
                noisy = signal + self.rng.normal(0.0, 1.0, 6) * np.sqrt(np.maximum(signal, 0.0)) \
                    + self.rng.normal(0.0, self.read_noise_counts, 6)
            for adc, (value, expected) in enumerate(zip(noisy, signal, strict=True)):
                if expected >= steps:  # more than one count per integration step: the front end saturates
                    analog, count = True, full_scale
                elif value >= 65535:
                    digital, count = True, 65535
                else:
                    count = int(max(0.0, round(float(value))))
                values[6 * cycle + adc] = count
        return values, (Bit.ASAT_ANALOG if analog else 0) | (Bit.ASAT_DIGITAL if digital else 0)

    def _data_bytes(self) -> bytes:
        data = bytearray([self.registers[Reg.ASTATUS]])
        for value in self.latched:
            data += int(value).to_bytes(2, "little")
        return bytes(data)


@contextlib.contextmanager
def install_sim_clock(clock) -> Iterator[None]:
    """Make the Adafruit AS7343 driver's ``time.sleep``/``time.monotonic`` follow ``clock`` (restored on exit)."""
    import adafruit_as7343

    saved = adafruit_as7343.time
    adafruit_as7343.time = types.SimpleNamespace(sleep=clock.sleep, monotonic=clock.monotonic)
    try:
        yield
    finally:
        adafruit_as7343.time = saved
