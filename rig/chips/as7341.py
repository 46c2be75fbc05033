"""The AS7341 (ams OSRAM DS000504): registers, bits, channels and gains, declared once.

The driver (:mod:`rig.hardware.spectral`, on the Adafruit driver), the flicker
capture, ``rig check`` and the register-level emulator (:mod:`rig.sim.as7341`)
all read these names; none repeats a number.
"""

from __future__ import annotations

from typing import Final

from rig.chips.model import ChannelSpec, Identity, ProductionSpread, Role, SpectralChip, Timing

NAME: Final = "as7341"
CHANNELS: Final = ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "Clear", "NIR")
GAIN_CODES_X: Final = (0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
GAIN_RATIO_VS_64X: Final = (0.008, 0.016, 0.032, 0.065, 0.125, 0.25, 0.5, 1.0, 2.0, 3.95, 7.75)  # measured (DS000504)
STEP_US: Final = 2.78  # integration step, us
FULL_SCALE_MAX: Final = 65535  # 16-bit data registers: full scale min(65535, (ATIME + 1) x (ASTEP + 1))
ADDRESS: Final = 0x39
ID_VALUE: Final = 0x09  # ID register bits 7:2
RESPONSIVITY_FILE: Final = "responsivity.csv"  # package data: counts per (uW/cm2) per ms at 64x
FIFO_ENTRIES: Final = 128  # flicker FIFO, 16-bit entries


class Reg:
    """Register addresses (bank 0 unless noted)."""

    SMUX_RAM = 0x00  # 0x00-0x13, bank 1 (CFG0.REG_BANK) for 0x60-0x7F
    ENABLE = 0x80
    ATIME = 0x81
    ID = 0x92
    ASTATUS = 0x94  # reading it latches CH0..CH5
    CH0 = 0x95  # CH0..CH5 data, 16-bit little endian, to 0xA0
    STATUS2 = 0xA3
    CFG0 = 0xA9
    CFG1 = 0xAA  # gain, bits 4:0
    CFG6 = 0xAF  # SMUX command, bits 4:3
    ASTEP_L = 0xCA
    ASTEP_H = 0xCB
    FD_CFG0 = 0xD7
    FD_TIME1 = 0xD8
    FD_TIME2 = 0xDA  # bits 2:0 FD_TIME high, bits 7:3 FD gain
    CONTROL = 0xFA
    FIFO_LVL = 0xFD
    FDATA_L = 0xFE


class Bit:
    """Bits and field values of those registers."""

    PON = 0x01  # ENABLE
    SP_EN = 0x02  # ENABLE: spectral measurement
    SMUXEN = 0x10  # ENABLE: run the SMUX command (self-clears)
    FDEN = 0x40  # ENABLE: flicker detection
    SMUX_WRITE = 2 << 3  # CFG6: write SMUX configuration from RAM
    REG_BANK = 0x10  # CFG0: registers 0x60-0x7F
    AVALID = 0x40  # STATUS2: data valid
    ASAT_DIGITAL = 0x10  # STATUS2
    ASAT_ANALOG = 0x08  # STATUS2
    ASAT = 0x80  # ASTATUS: saturated
    FIFO_WRITE_FD = 0x80  # FD_CFG0: flicker samples to the FIFO
    FIFO_CLR = 0x02  # CONTROL


# --- the chip as a value (rig.chips.model.SpectralChip) ---------------------------------------------------------
_FILTER, _NIR, _BROAD, _FLICKER = Role.FILTER, Role.NIR, Role.BROADBAND, Role.FLICKER
# DS000504 typical peak and FWHM (nm); centre tolerance +/-10 nm (e.g. F8 min 670, typ 680, max 690)
_FILTERS: Final = (("F1", 415, 26), ("F2", 445, 30), ("F3", 480, 36), ("F4", 515, 39), ("F5", 555, 39),
                   ("F6", 590, 40), ("F7", 630, 50), ("F8", 680, 52))

CHIP: Final = SpectralChip(
    name=NAME,
    title="AS7341 (ams OSRAM DS000504), 10 channels read in two SMUX integrations",
    channel_specs=(
        *(ChannelSpec(n, frozenset({_FILTER}), p, p - 10, p + 10, w) for n, p, w in _FILTERS),
        # no filter; the flicker engine samples a broadband photodiode (the emulator uses Clear's response)
        ChannelSpec("Clear", frozenset({_BROAD, _FLICKER})),
        ChannelSpec("NIR", frozenset({_NIR}), 910, 900, 920, 100),  # broad; FWHM "~100" (reference notes)
    ),
    gain_codes_x=GAIN_CODES_X,
    gain_ratio_vs_64x=GAIN_RATIO_VS_64X,
    timing=Timing(step_us=STEP_US, atime_max=255, astep_max=65534, counts_max=FULL_SCALE_MAX,
                  default_atime=29, default_astep=599),  # datasheet suggestion: about 50 ms
    default_address=ADDRESS,
    identity=Identity(register=Reg.ID, value=ID_VALUE, shift=2),
    responsivity_file=RESPONSIVITY_FILE,
    spread=ProductionSpread(
        centre_sigma_nm=2.5, centre_limit_nm=10.0, width_rel=0.05, skew_per_100nm=0.08, sensitivity_rel=0.10,
        out_of_band_rel=0.015, out_of_band_range=(0.1, 3.0), out_of_band_channels=CHANNELS[:6],
        gain_rel=0.02, gain_limit_rel=0.05, model_shift_u_nm=3.0, out_of_band_tilt=0.3,
        model_oob_u=(*((name, 0.02) for name in CHANNELS[:6]), ("F7", 0.01), ("F8", 0.01), ("NIR", 0.01)),
        source="centres typ +/-10 nm (DS000504/DS000718) as a 4-sigma limit; width, skew: the two public "
               "digitisations of the typical curves differ this much; sensitivity 10 %: no datasheet limit "
               "(assumption); out-of-band 0.1x-3x the ams templates' level (templates vs figure digitisation), its "
               "slope between red and NIR light 0.3 per 200 nm (log, standard; an assumption: the two digitisations "
               "differ by a factor at 660 nm that they do not across 600-1000 nm); "
               "gain ratios +/-5 % (DS000504)"),
    driver="rig.hardware.spectral:SpectralSensor",
    emulator="rig.sim.as7341:AS7341Emulator",
    driver_package="adafruit-circuitpython-as7341",
    notes=("F1-F8 leak about 4-7 % of NIR light (AN000633)",
           "only 6 ADCs: a full reading is two SMUX configurations and two integrations"),
)
