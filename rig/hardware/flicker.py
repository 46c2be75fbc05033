"""Raw flicker samples from the AS7341's flicker-detection engine, through its FIFO.

AS7341-only driver code (beside :mod:`rig.hardware.spectral`): the registers, FIFO, gains and step are the
AS7341's (:mod:`rig.chips.as7341`). A driver that can run it says so (``flicker_capture = True``, read by
:attr:`rig.hardware.bench.Bench.flicker_unavailable`); handed any other chip's sensor (an AS7343, whose flicker
engine has other registers and is not emulated) both captures refuse with :class:`~rig.errors.FlickerUnavailable`
before touching a register.

The flicker photodiode is broadband; each sample integrates the light over an
aperture of (FD_TIME + 1) x 2.78 us, and samples follow each other back to back
(sample period = aperture). Two kinds of capture:

- :func:`capture`: a long continuous trace at ~2 kHz (aperture 500 us), the
  FIFO drained at half full. Precise frequency and duty for slow pulses, but a
  boxcar: modulation above ~1 kHz is averaged away, and aliased.
- :func:`capture_bursts`: short-aperture bursts (a few us per sample, up to
  180 kHz) of one FIFO's worth (128 samples) each, at several co-prime
  apertures. A full FIFO keeps its first entries (overflow drops the new ones),
  so every burst is contiguous however late the Pi reads it.

Spectral measurement is paused while capturing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rig.chips.as7341 import CHIP, FIFO_ENTRIES, Bit, Reg
from rig.errors import FlickerUnavailable, SensorFault
from rig.hardware.spectral import SpectralSensor

# this capture drives the AS7341's own flicker FIFO: its registers, gains and step, and no other chip's
GAIN_CODES_X, GAIN_RATIO_VS_64X = CHIP.gain_codes_x, CHIP.gain_ratio_vs_64x
STEP_S = CHIP.timing.step_us * 1e-6
TARGET_PEAK_COUNTS = 20000.0
BURST_STEPS = (2, 5, 13, 37)  # apertures of 5.6, 13.9, 36.1, 103 us: co-prime sampling rates, 180 .. 9.7 kHz
BURSTS_PER_APERTURE = 8


@dataclass(frozen=True)
class FlickerTrace:
    """Evenly spaced raw samples of the broadband flicker photodiode."""

    samples: tuple[int, ...]
    rate_hz: float
    gain_x: float
    t0_s: float


def check_chip(sensor) -> None:
    """A :class:`~rig.errors.FlickerUnavailable` unless ``sensor`` is an AS7341 reader."""
    chip = getattr(sensor, "chip", None)
    if chip is not CHIP:
        name = chip.name.upper() if chip is not None else type(sensor).__name__
        raise FlickerUnavailable(f"the flicker capture drives the AS7341's flicker FIFO; this sensor is an {name}")


def fd_time_for(rate_hz: float) -> int:
    """FD_TIME register value for a sample rate: period = (FD_TIME + 1) x 2.78 us."""
    return max(0, min(2047, round(1.0 / (rate_hz * STEP_S)) - 1))


def choose_gain(clear_basic_per_ms: float, period_s: float) -> float:
    """The highest flicker gain whose samples stay under ~30 % of the 16-bit range at the steady level."""
    for gain_x, ratio in reversed(list(zip(GAIN_CODES_X, GAIN_RATIO_VS_64X, strict=True))):
        if clear_basic_per_ms * ratio * period_s * 1000.0 <= TARGET_PEAK_COUNTS:
            return gain_x
    return GAIN_CODES_X[0]


def capture(sensor: SpectralSensor, duration_s: float, rate_hz: float = 2000.0,
            clear_basic_per_ms: float | None = None) -> FlickerTrace:
    """Capture ``duration_s`` of raw flicker samples at about ``rate_hz``; the FIFO is drained in bursts.

    ``clear_basic_per_ms`` (the broadband channel in basic counts from a recent reading) sets the gain.
    """
    check_chip(sensor)
    fd_time = fd_time_for(rate_hz)
    period = (fd_time + 1) * STEP_S
    gain_x = choose_gain(clear_basic_per_ms or 1.0, period)
    code = GAIN_CODES_X.index(gain_x)
    wanted = int(round(duration_s / period))
    chunk_s = 0.5 * FIFO_ENTRIES * period  # drain at half full: never overflows
    sensor.write_register(Reg.ENABLE, Bit.PON)  # spectral measurement off
    sensor.write_register(Reg.FD_TIME1, fd_time & 0xFF)
    sensor.write_register(Reg.FD_TIME2, (code << 3) | (fd_time >> 8))
    sensor.write_register(Reg.FD_CFG0, Bit.FIFO_WRITE_FD)
    sensor.write_register(Reg.CONTROL, Bit.FIFO_CLR)
    t0 = sensor.clock.monotonic()
    sensor.write_register(Reg.ENABLE, Bit.PON | Bit.FDEN)
    samples: list[int] = []
    try:
        idle = 0
        while len(samples) < wanted:
            sensor.clock.sleep(chunk_s)
            level = sensor.read_register(Reg.FIFO_LVL)
            if level == 0:
                idle += 1
                if idle > 5:
                    raise SensorFault(f"AS7341 at 0x{sensor.config.address:02x}: flicker FIFO stays empty")
                continue
            idle = 0
            data = sensor.read_block(Reg.FDATA_L, 2 * level)
            samples += [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]
    finally:
        sensor.write_register(Reg.ENABLE, Bit.PON)
        sensor.write_register(Reg.FD_CFG0, 0)
    return FlickerTrace(tuple(samples[:wanted]), 1.0 / period, gain_x, t0)


@dataclass(frozen=True)
class Burst:
    """One FIFO's worth of contiguous short-aperture samples (sample period = aperture)."""

    samples: tuple[int, ...]
    steps: int  # FD_TIME + 1
    gain_x: float
    t0_s: float

    @property
    def period_s(self) -> float:
        return self.steps * STEP_S

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.period_s


def _set_flicker(sensor: SpectralSensor, fd_time: int, gain_code: int) -> None:
    sensor.write_register(Reg.ENABLE, Bit.PON)  # spectral measurement off
    sensor.write_register(Reg.FD_TIME1, fd_time & 0xFF)
    sensor.write_register(Reg.FD_TIME2, (gain_code << 3) | (fd_time >> 8))
    sensor.write_register(Reg.FD_CFG0, Bit.FIFO_WRITE_FD)


def capture_bursts(sensor: SpectralSensor, clear_basic_per_ms: float | None = None,
                   steps: Sequence[int] = BURST_STEPS, count: int = BURSTS_PER_APERTURE) -> list[Burst]:
    """``count`` bursts of 128 samples at each aperture of ``steps`` x 2.78 us, at the highest safe gain.

    Each burst: clear the FIFO, run the engine for one FIFO's worth, stop it, read the FIFO in one block.
    Bursts start at unrelated times, so their phases in the waveform are independent.
    """
    check_chip(sensor)
    bursts: list[Burst] = []
    try:
        for n in steps:
            fd_time = max(0, min(2047, int(n) - 1))
            period = (fd_time + 1) * STEP_S
            gain_x = choose_gain(clear_basic_per_ms or 1.0, period)
            _set_flicker(sensor, fd_time, GAIN_CODES_X.index(gain_x))
            for _ in range(count):
                sensor.write_register(Reg.CONTROL, Bit.FIFO_CLR)
                t0 = sensor.clock.monotonic()
                sensor.write_register(Reg.ENABLE, Bit.PON | Bit.FDEN)
                sensor.clock.sleep(FIFO_ENTRIES * period * 1.02)
                sensor.write_register(Reg.ENABLE, Bit.PON)
                level = sensor.read_register(Reg.FIFO_LVL)
                if level == 0:
                    raise SensorFault(f"AS7341 at 0x{sensor.config.address:02x}: flicker FIFO stays empty")
                data = sensor.read_block(Reg.FDATA_L, 2 * level)
                samples = tuple(int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2))
                bursts.append(Burst(samples, fd_time + 1, gain_x, t0))
    finally:
        sensor.write_register(Reg.ENABLE, Bit.PON)
        sensor.write_register(Reg.FD_CFG0, 0)
    return bursts
