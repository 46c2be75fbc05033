"""The AS7343 (ams OSRAM DS001046 v6-00): registers, bits, channels, auto-SMUX layout and gains, declared once.

The driver wrapper (:mod:`rig.hardware.as7343`, on the Adafruit ``adafruit_as7343`` driver) and the
register-level emulator (:mod:`rig.sim.as7343`) read these names; none repeats a number. Register addresses,
bits and reset values are the datasheet's (checked against the Adafruit driver 1.0.3's source).
"""

from __future__ import annotations

from typing import Final

from rig.chips.model import ChannelSpec, Identity, ProductionSpread, Role, SpectralChip, Timing

NAME: Final = "as7343"
ADDRESS: Final = 0x39
ID_VALUE: Final = 0x81  # part ID register (bank 1), the whole byte
STEP_US: Final = 2.78  # integration step, us: t_int = (ATIME + 1) x (ASTEP + 1) x 2.78 us
FULL_SCALE_MAX: Final = 65535
GAIN_CODES_X: Final = (0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)  # AGAIN codes 0..12
# DS001046 v6-00 Figure 10: optical gain ratios relative to 64x, min / typ / max (0.5x-16x printed x1000)
GAIN_RATIO_LIMITS: Final = ((0.00749, 0.00828), (0.0150, 0.0165), (0.0300, 0.0332), (0.061, 0.067),
                            (0.117, 0.130), (0.235, 0.259), (0.475, 0.525), (1.0, 1.0), (1.9, 2.1), (3.9, 4.3),
                            (8.1, 9.1), (15.2, 18.6), (28.2, 41.3))
GAIN_RATIO_VS_64X: Final = (0.0079, 0.0158, 0.0316, 0.064, 0.124, 0.247, 0.5, 1.0, 2.0, 4.1, 8.6, 16.9, 34.75)
RESPONSIVITY_FILE: Final = "responsivity_as7343.csv"  # made by calibration/make_responsivity_as7343.py

# Filter channels: DS001046 v6-00 Figure 7, peak wavelength typ (min/max = typ -/+ 10 nm) and typical FWHM, nm.
FILTERS: Final = (("F1", 405, 30), ("F2", 425, 22), ("FZ", 450, 55), ("F3", 475, 30), ("F4", 515, 40),
                  ("F5", 550, 35), ("FY", 555, 100), ("FXL", 600, 80), ("F6", 640, 50), ("F7", 690, 55),
                  ("F8", 745, 60))
NIR_PEAK_FWHM_NM: Final = (855, 54)
CHANNELS: Final = (*(name for name, _, _ in FILTERS), "VIS", "NIR")

# Auto-SMUX (CFG20.auto_smux, DS001046 Fig. 57): what the six ADCs hold in each cycle, in data-register order
# (the Adafruit driver's Channel enum lists the same 18 values). "2xVIS": the top-left and bottom-right VIS
# photodiodes, read in every cycle; with flicker detection on, CH5 serves it instead (not used by rig).
AUTO_SMUX_CYCLES: Final = (("FZ", "FY", "FXL", "NIR", "VIS", "VIS"),
                           ("F2", "F3", "F4", "F6", "VIS", "VIS"),
                           ("F1", "F7", "F8", "F5", "VIS", "VIS"))
AUTO_SMUX_MODES: Final = {0: 1, 2: 2, 3: 3}  # CFG20 bits 6:5 -> cycles (6, 12, 18 channels); 1 is reserved


class Reg:
    """Register addresses. Bank 1 (CFG0.REG_BANK = 1) for 0x58-0x7F, bank 0 for 0x80 and up."""

    AUXID = 0x58  # bank 1
    REVID = 0x59  # bank 1
    ID = 0x5A  # bank 1: reads 0x81
    CFG10 = 0x65  # bank 1
    CFG12 = 0x66  # bank 1
    GPIO = 0x6B  # bank 1
    ENABLE = 0x80
    ATIME = 0x81
    WTIME = 0x83
    SP_TH_L = 0x84
    SP_TH_H = 0x86
    STATUS2 = 0x90
    STATUS3 = 0x91
    STATUS = 0x93  # write 1s to clear
    ASTATUS = 0x94  # reading it latches the data registers
    DATA_0 = 0x95  # 18 x 16-bit little endian, to 0xB8
    STATUS5 = 0xBB
    STATUS4 = 0xBC
    CFG0 = 0xBF  # REG_BANK bit 4 (reachable from both banks)
    CFG1 = 0xC6  # AGAIN bits 4:0
    CFG3 = 0xC7
    CFG8 = 0xC9
    CFG9 = 0xCA
    LED = 0xCD
    PERS = 0xCF
    ASTEP_L = 0xD4
    ASTEP_H = 0xD5
    CFG20 = 0xD6  # auto_smux bits 6:5
    AGC_GAIN_MAX = 0xD7
    AZ_CONFIG = 0xDE
    FD_CFG0 = 0xDF
    FD_TIME_1 = 0xE0
    FD_TIME_2 = 0xE2
    FD_STATUS = 0xE3
    CFG6 = 0xF5  # SMUX command (manual SMUX; auto-SMUX needs none)
    INTENAB = 0xF9
    CONTROL = 0xFA  # SW_RESET bit 3
    FIFO_MAP = 0xFC
    FIFO_LVL = 0xFD
    FDATA_L = 0xFE
    FDATA_H = 0xFF


class Bit:
    """Bits and fields of those registers."""

    PON = 0x01  # ENABLE
    SP_EN = 0x02  # ENABLE: spectral measurement
    WEN = 0x08  # ENABLE: wait between measurements
    SMUXEN = 0x10  # ENABLE
    FDEN = 0x40  # ENABLE: flicker detection
    AVALID = 0x40  # STATUS2: a complete measurement (all auto-SMUX cycles) is ready
    ASAT_DIGITAL = 0x10  # STATUS2
    ASAT_ANALOG = 0x08  # STATUS2
    ASAT = 0x80  # STATUS and ASTATUS: saturated
    AGAIN_STATUS = 0x0F  # ASTATUS bits 3:0: the gain the data were taken at
    REG_BANK = 0x10  # CFG0
    AGAIN = 0x1F  # CFG1 bits 4:0
    AUTO_SMUX_SHIFT = 5  # CFG20 bits 6:5
    AUTO_SMUX_MASK = 0x60
    SW_RESET = 0x08  # CONTROL


# --- the chip as a value ---------------------------------------------------------------------------------------
_FILTER, _NIR, _BROAD, _FLICKER = Role.FILTER, Role.NIR, Role.BROADBAND, Role.FLICKER

CHIP: Final = SpectralChip(
    name=NAME,
    title="AS7343 (ams OSRAM DS001046), 13 channels read in one 18-channel auto-SMUX measurement",
    channel_specs=(
        *(ChannelSpec(n, frozenset({_FILTER}), p, p - 10, p + 10, w) for n, p, w in FILTERS),
        # VIS: no filter. The flicker engine has its own photodiode at the array's edge; VIS's broadband
        # response stands in for it (assumption, as for the AS7341's Clear).
        ChannelSpec("VIS", frozenset({_BROAD, _FLICKER})),
        ChannelSpec("NIR", frozenset({_NIR}), NIR_PEAK_FWHM_NM[0], NIR_PEAK_FWHM_NM[0] - 10,
                    NIR_PEAK_FWHM_NM[0] + 10, NIR_PEAK_FWHM_NM[1]),
    ),
    gain_codes_x=GAIN_CODES_X,
    gain_ratio_vs_64x=GAIN_RATIO_VS_64X,
    timing=Timing(step_us=STEP_US, atime_max=255, astep_max=65534, counts_max=FULL_SCALE_MAX,
                  default_atime=29, default_astep=599,  # ~50 ms per cycle (DS001046 Fig. 10 typical)
                  both_zero_allowed=False),  # DS001046 10.2.2: "not allowed that both ... are set to 0"
    default_address=ADDRESS,
    identity=Identity(register=Reg.ID, value=ID_VALUE, shift=0, bank_register=Reg.CFG0, bank_bit=Bit.REG_BANK),
    responsivity_file=RESPONSIVITY_FILE,
    spread=ProductionSpread(
        centre_sigma_nm=2.5, centre_limit_nm=10.0, width_rel=0.05, skew_per_100nm=0.08, sensitivity_rel=0.10,
        out_of_band_rel=0.0, out_of_band_range=(0.1, 3.0),
        out_of_band_channels=tuple(n for n in CHANNELS if n != "VIS"),
        gain_rel=0.02, gain_limit_rel=0.05, gain_ratio_limits=GAIN_RATIO_LIMITS,
        table_floor_rel=0.01, table_floor_band_nm=(380.0, 1000.0), model_shift_u_nm=3.0,
        # out-of-band: a part's level is 0.1x-3x the 1 % floor, uniform in log: standard deviation ~0.8 % of peak
        model_oob_u=tuple((name, 0.01) for name in CHANNELS if name != "VIS"),
        source="centres: DS001046 Fig. 7 min/typ/max = typ -/+ 10 nm, taken as a 4-sigma limit (as for the "
               "AS7341); sensitivity 10 %: DS001046 Fig. 8 responsivity limits are about typ -25 %/+30 %, i.e. "
               "+/-3 sigma; gain ratios within DS001046 Fig. 10 min/max per gain (4-sigma limits; 2048x: "
               "28.2-41.3 of 64x); width, skew: no datasheet figure, the AS7341's assumed (same ams filter "
               "process); out-of-band: 0.1x-3x the table's stated 1 % floor (its header)"),
    driver="rig.hardware.as7343:AS7343Sensor",
    emulator="rig.sim.as7343:AS7343Emulator",
    driver_package="adafruit-circuitpython-as7343",
    notes=("a full spectrum is one measurement of three auto-SMUX cycles (3 x t_int)",
           "VIS is read twice per cycle (two photodiodes): the reading's VIS is the mean of the six"),
)
