"""A register-level AS7341 emulator: the real Adafruit driver and rig's reader talk to it over the busio face.

What it models (DS000504): the ID register; ENABLE (PON, SP_EN, SMUXEN that
self-clears once the SMUX command ran, FDEN); CFG6 SMUX command 2 = write the
20-byte SMUX RAM (0x00-0x13) into the switch matrix; ATIME/ASTEP/CFG1 gain;
continuous integration while SP_EN is set (integration k ends at
``t_enable + k * t_int`` on the simulated clock); STATUS2 AVALID and the
analog/digital saturation bits; ASTATUS (0x94) whose read latches CH0..CH5.

Counts come from the light at the sensor over the integration window, times
each channel's responsivity *of this unit* (a part drawn from the production
spread around the typical table, see :mod:`rig.sim.sensor_unit`; never the
estimator's table itself), the unit's gain ratio and the integration time, plus
dark counts and seeded shot and read noise. Saturation: at most one count per integration step (analog), at most
65535 (digital).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import adafruit_as7341
import numpy as np

from rig.chips.as7341 import CHANNELS, CHIP, FIFO_ENTRIES, ID_VALUE, Bit, Reg
from rig.sim.bus import SimI2CDevice
from rig.sim.optics import LightSource, SpectralLine, weighted_between
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum.responsivity import Responsivity, full_scale_counts, integration_time_ms

# the chip's registers and bits, as declared once in rig.chips.as7341
ENABLE, ATIME, ID, ASTATUS, CH0 = Reg.ENABLE, Reg.ATIME, Reg.ID, Reg.ASTATUS, Reg.CH0
FD_CFG0, FD_TIME1, FD_TIME2, CONTROL, FIFO_LVL, FDATA_L = (Reg.FD_CFG0, Reg.FD_TIME1, Reg.FD_TIME2, Reg.CONTROL,
                                                           Reg.FIFO_LVL, Reg.FDATA_L)
FDEN, FIFO_WRITE_FD, FIFO_CLR = Bit.FDEN, Bit.FIFO_WRITE_FD, Bit.FIFO_CLR
STATUS2, CFG0, CFG1, CFG6, ASTEP_L, ASTEP_H = Reg.STATUS2, Reg.CFG0, Reg.CFG1, Reg.CFG6, Reg.ASTEP_L, Reg.ASTEP_H
PON, SP_EN, SMUXEN = Bit.PON, Bit.SP_EN, Bit.SMUXEN
AVALID, ASAT_DIGITAL, ASAT_ANALOG = Bit.AVALID, Bit.ASAT_DIGITAL, Bit.ASAT_ANALOG

# Photodiodes behind each SMUX RAM byte (low nibble, high nibble), from the driver's SMUX_IN names.
# "L"/"R" are the two halves of a filter channel; each gives half the channel's response.
SMUX_PHOTODIODES: tuple[tuple[str | None, str | None], ...] = (
    (None, "F3L"), ("F1L", None), (None, None), (None, "F8L"), ("F6L", None), ("F2L", "F4L"), (None, "F5L"),
    ("F7L", None), (None, "ClearL"), (None, "F5R"), ("F7R", None), (None, None), (None, "F2R"), ("F4R", None),
    ("F8R", "F6R"), (None, "F3R"), ("F1R", None), (None, "ClearR"), (None, None), ("NIR", None),
)
_CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNELS)}


def _photodiode_weight(name: str) -> tuple[int, float]:
    """Channel index and share of its response for a photodiode half ("F3L" -> F3, 0.5)."""
    if name == "NIR":
        return _CHANNEL_INDEX["NIR"], 1.0
    return _CHANNEL_INDEX[name[:-1]], 0.5


def unit_from_spread(unit_id: str, seed: int = 0, spread: SensorSpread | None = None) -> SensorUnit:
    """The AS7341 part labelled ``unit_id`` in lot ``seed``, drawn with a simulated wrap's ``[sensor]`` spread
    (the simulated bench's entry point; :meth:`SensorUnit.draw` does the drawing)."""
    return SensorUnit.draw(unit_id, seed, spread)


class AS7341Emulator(SimI2CDevice):
    """The chip. ``light`` says what reaches the sensor; ``seed`` makes noise repeatable.

    ``unit``: the part (its curves and gain ratios); default a unit drawn from the production spread
    with label "sim" in lot ``seed``. ``responsivity`` overrides the unit's curves (tests of the emulator's
    arithmetic only).
    """

    CHIP_ID_BYTE = ID_VALUE << 2

    def __init__(self, clock, light: LightSource, responsivity: Responsivity | None = None, seed: int = 0,
                 dark_counts: float = 1.5, read_noise_counts: float = 1.0, unit: SensorUnit | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.light = light
        self.unit = unit or SensorUnit.draw("sim", seed)
        self.responsivity = responsivity or self.unit.responsivity
        self.rng = np.random.default_rng(seed)
        self.dark_counts = dark_counts
        self.read_noise_counts = read_noise_counts
        self.registers = bytearray(256)
        self.registers[ID] = self.CHIP_ID_BYTE
        self.registers[ATIME] = 0
        self.smux_ram = bytearray(20)
        self.adc_weights = np.zeros((6, 10))  # ADC x channel share, from the applied SMUX configuration
        self.low_bank = bytearray(0x80)  # registers 0x60-0x7F when CFG0.REG_BANK is set
        self.enabled_at_s: float | None = None
        self.t_int_at_enable_ms = 0.0
        self.latched = [0] * 6
        self.latched_window: tuple[float, float] | None = None
        self._pending: tuple[tuple[float, float], list[int], int] | None = None
        self.frozen = False  # fault: the data registers stop updating
        self.fifo: list[int] = []
        self.fifo_overflows = 0
        self._fd_next_s: float | None = None  # when the next flicker sample completes
        self.integrations_started = 0
        self.integrations_read = 0

    # --- configuration state ------------------------------------------------------
    @property
    def atime(self) -> int:
        return self.registers[ATIME]

    @property
    def astep(self) -> int:
        return self.registers[ASTEP_L] | self.registers[ASTEP_H] << 8

    @property
    def gain_code(self) -> int:
        return min(self.registers[CFG1] & 0x1F, 10)

    def _apply_smux(self) -> None:
        weights = np.zeros((6, 10))
        for address, byte in enumerate(self.smux_ram):
            for nibble, photodiode in zip((byte & 0x0F, byte >> 4), SMUX_PHOTODIODES[address], strict=True):
                if nibble and photodiode is not None and 1 <= nibble <= 6:
                    channel, share = _photodiode_weight(photodiode)
                    weights[nibble - 1, channel] += share
        self.adc_weights = weights

    # --- register access ----------------------------------------------------------------
    def write_register(self, register: int, value: int) -> None:
        if register < 0x80:
            if self.registers[CFG0] & 0x10 and register >= 0x60:
                self.low_bank[register] = value
            elif register < len(self.smux_ram):
                self.smux_ram[register] = value
            else:
                self.low_bank[register] = value
            return
        if register == CONTROL and value & FIFO_CLR:
            self.fifo.clear()
            value &= ~FIFO_CLR
        if register == ENABLE or register == FD_CFG0:
            self._fill_fifo()
        if register == ENABLE:
            previous = self.registers[ENABLE]
            if value & SMUXEN and ((self.registers[CFG6] >> 3) & 0x3) == 2:
                self._apply_smux()  # the command completes at once: SMUXEN reads back cleared
                value &= ~SMUXEN
            if value & SP_EN and value & PON and not previous & SP_EN:
                self.enabled_at_s = self.clock.monotonic()
                self.t_int_at_enable_ms = integration_time_ms(self.atime, self.astep)
                self.integrations_started += 1
            elif not value & SP_EN:
                self.enabled_at_s = None
        if register == ID:
            return
        self.registers[register] = value
        if register in (ENABLE, FD_CFG0, FD_TIME1, FD_TIME2):
            self._fd_next_s = self.clock.monotonic() + self._fd_period_s() if self._fd_running() else None

    def read_register(self, register: int) -> int:
        if register < 0x80:
            if self.registers[CFG0] & 0x10 and register >= 0x60:
                return self.low_bank[register]
            return self.smux_ram[register] if register < len(self.smux_ram) else self.low_bank[register]
        if register == STATUS2:
            return self._status2()
        if ASTATUS <= register <= 0xA0:
            return self._data_bytes()[register - ASTATUS]
        return self.registers[register]

    def read_block(self, register: int, length: int) -> bytes:
        if register == ASTATUS:
            self._latch()
        if register == FIFO_LVL:
            self._fill_fifo()
            return bytes([min(len(self.fifo), 255)]) + bytes(max(0, length - 1))
        if register == FDATA_L:
            # a burst read from FDATA pops 16-bit entries, little endian (an empty FIFO reads 0)
            self._fill_fifo()
            data = bytearray()
            for _ in range((length + 1) // 2):
                data += (self.fifo.pop(0) if self.fifo else 0).to_bytes(2, "little")
            return bytes(data[:length])
        return super().read_block(register, length)

    # --- flicker detection: raw samples into the FIFO ------------------------------------------
    def _fd_running(self) -> bool:
        enable = self.registers[ENABLE]
        return bool(enable & PON and enable & FDEN and self.registers[FD_CFG0] & FIFO_WRITE_FD)

    def _fd_period_s(self) -> float:
        fd_time = self.registers[FD_TIME1] | (self.registers[FD_TIME2] & 0x07) << 8
        return (fd_time + 1) * 2.78e-6

    def _fd_gain_code(self) -> int:
        return min(self.registers[FD_TIME2] >> 3, 10)

    def _fill_fifo(self) -> None:
        """Add every flicker sample completed since the last look (broadband photodiode, Clear's response)."""
        if self._fd_next_s is None or not self._fd_running():
            return
        period = self._fd_period_s()
        now = self.clock.monotonic()
        if now < self._fd_next_s:
            return
        count = int((now - self._fd_next_s) / period) + 1
        ends = self._fd_next_s + period * np.arange(count)
        self._fd_next_s = float(ends[-1] + period)
        room = FIFO_ENTRIES - len(self.fifo)
        if count > room:
            self.fifo_overflows += count - room
            ends = ends[:max(room, 0)]
        clear_index = _CHANNEL_INDEX["Clear"]
        scale = self._gain_ratio(self._fd_gain_code()) * period * 1000.0
        if not len(ends):
            return

        def clear(line: SpectralLine) -> float:
            return float(self.responsivity.line_response(line.peak_nm, line.fwhm_nm)[clear_index])

        signals = weighted_between(self.light, ends - period, ends, clear) * scale + self.dark_counts
        for signal in signals:
            noisy = signal + self.rng.normal() * np.sqrt(max(signal, 0.0)) + self.rng.normal(0, self.read_noise_counts)
            self.fifo.append(int(min(65535, max(0, round(noisy)))))

    def _gain_ratio(self, code: int) -> float:
        """This unit's sensitivity at gain ``code`` relative to 64x (the datasheet ratio x the unit's factor)."""
        return CHIP.gain_ratio_vs_64x[code] * self.unit.gain_factors[code]

    # --- measurement --------------------------------------------------------------------------
    def _completed_window(self) -> tuple[float, float] | None:
        """The most recent completed integration window while SP_EN is on, if any."""
        if self.enabled_at_s is None or not self.registers[ENABLE] & PON:
            return None
        t_int_s = self.t_int_at_enable_ms / 1000.0
        done = int((self.clock.monotonic() - self.enabled_at_s) / t_int_s + 1e-9)
        if done < 1:
            return None
        end = self.enabled_at_s + done * t_int_s
        return end - t_int_s, end

    def _status2(self) -> int:
        """AVALID while a completed integration is unread; saturation bits of the latest integration."""
        window = self._completed_window()
        if window is not None and window != self.latched_window:
            _, flags = self._window_result(window)
            return AVALID | flags
        return self.registers[STATUS2] & (ASAT_DIGITAL | ASAT_ANALOG)

    def _window_result(self, window: tuple[float, float]) -> tuple[list[int], int]:
        """Counts and saturation flags of one integration window (computed once)."""
        if self._pending is None or self._pending[0] != window:
            counts, analog, digital = self._counts(*window)
            self._pending = (window, counts, (ASAT_ANALOG if analog else 0) | (ASAT_DIGITAL if digital else 0))
        return self._pending[1], self._pending[2]

    def _latch(self) -> None:
        window = self._completed_window()
        if window is None or window == self.latched_window or self.frozen:
            return
        self.latched_window = window
        self.integrations_read += 1
        self.latched, flags = self._window_result(window)
        self.registers[STATUS2] = flags
        self.registers[ASTATUS] = (0x80 if flags else 0) | self.gain_code

    def _counts(self, t0_s: float, t1_s: float) -> tuple[list[int], bool, bool]:
        per_channel = np.zeros(10)
        for line in self.light.lines_between(t0_s, t1_s):
            per_channel += line.irradiance_uw_cm2 * self.responsivity.line_response(line.peak_nm, line.fwhm_nm)
        t_int_ms = (t1_s - t0_s) * 1000.0
        signal = self.adc_weights @ per_channel * self._gain_ratio(self.gain_code) * t_int_ms + self.dark_counts
        noisy = signal + self.rng.normal(0.0, 1.0, 6) * np.sqrt(np.maximum(signal, 0.0)) \
            + self.rng.normal(0.0, self.read_noise_counts, 6)
        steps = (self.atime + 1) * (self.astep + 1)
        full_scale = full_scale_counts(self.atime, self.astep)
        counts, analog, digital = [], False, False
        for value, expected in zip(noisy, signal, strict=True):
            if expected >= steps:  # more than one count per integration step: the front end saturates
                analog = True
                counts.append(full_scale)
            elif value >= 65535:
                digital = True
                counts.append(65535)
            else:
                counts.append(int(max(0.0, round(value))))
        return counts, analog, digital

    def _data_bytes(self) -> bytes:
        data = bytearray([self.registers[ASTATUS]])
        for value in self.latched:
            data += int(value).to_bytes(2, "little")
        return bytes(data)


@contextlib.contextmanager
def install_sim_clock(clock) -> Iterator[None]:
    """Make the Adafruit driver's ``sleep``/``monotonic`` follow ``clock`` (restored on exit)."""
    saved = adafruit_as7341.sleep, adafruit_as7341.monotonic
    adafruit_as7341.sleep, adafruit_as7341.monotonic = clock.sleep, clock.monotonic
    try:
        yield
    finally:
        adafruit_as7341.sleep, adafruit_as7341.monotonic = saved
