"""Raw flicker samples from the AS7341's flicker-detection engine, through its FIFO (up to ~2 kHz).

The flicker photodiode is broadband; its samples, read in bursts from the
FIFO, give the light's waveform: pulse frequency, duty cycle, modulation depth.
Spectral measurement is paused while capturing.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.errors import SensorFault
from rig.hardware.spectral import SpectralSensor
from rig.responsivity import GAIN_CODES_X, GAIN_RATIO_VS_64X

ENABLE, FD_CFG0, FD_TIME1, FD_TIME2, CONTROL, FIFO_LVL, FDATA_L = 0x80, 0xD7, 0xD8, 0xDA, 0xFA, 0xFD, 0xFE
PON, FDEN, FIFO_WRITE_FD, FIFO_CLR = 0x01, 0x40, 0x80, 0x02
STEP_S = 2.78e-6
FIFO_ENTRIES = 128
TARGET_PEAK_COUNTS = 20000.0


@dataclass(frozen=True)
class FlickerTrace:
    """Evenly spaced raw samples of the broadband flicker photodiode."""

    samples: tuple[int, ...]
    rate_hz: float
    gain_x: float
    t0_s: float


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

    ``clear_basic_per_ms`` (the Clear channel in basic counts from a recent reading) sets the gain.
    """
    fd_time = fd_time_for(rate_hz)
    period = (fd_time + 1) * STEP_S
    gain_x = choose_gain(clear_basic_per_ms or 1.0, period)
    code = GAIN_CODES_X.index(gain_x)
    wanted = int(round(duration_s / period))
    chunk_s = 0.5 * FIFO_ENTRIES * period  # drain at half full: never overflows
    sensor._write(bytes([ENABLE, PON]))  # spectral measurement off
    sensor._write(bytes([FD_TIME1, fd_time & 0xFF]))
    sensor._write(bytes([FD_TIME2, (code << 3) | (fd_time >> 8)]))
    sensor._write(bytes([FD_CFG0, FIFO_WRITE_FD]))
    sensor._write(bytes([CONTROL, FIFO_CLR]))
    t0 = sensor.clock.monotonic()
    sensor._write(bytes([ENABLE, PON | FDEN]))
    samples: list[int] = []
    try:
        idle = 0
        while len(samples) < wanted:
            sensor.clock.sleep(chunk_s)
            level = sensor._read_register(FIFO_LVL)
            if level == 0:
                idle += 1
                if idle > 5:
                    raise SensorFault(f"AS7341 at 0x{sensor.config.address:02x}: flicker FIFO stays empty")
                continue
            idle = 0
            data = bytearray(2 * level)
            with sensor.i2c_device as i2c:
                i2c.write_then_readinto(bytes([FDATA_L]), data)
            samples += [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]
    finally:
        sensor._write(bytes([ENABLE, PON]))
        sensor._write(bytes([FD_CFG0, 0]))
    return FlickerTrace(tuple(samples[:wanted]), 1.0 / period, gain_x, t0)
