"""The :class:`SpectralChip` value: what every layer needs to know about a spectral sensor chip.

A chip module (``rig/chips/<chip>.py``) declares its registers and builds one of these; the bench, the
responsivity table, calibration and every estimate carry it, so nothing outside ``rig/chips/`` (and the chip's
own driver and emulator) names a channel, a gain or a count of channels. Safety code asks for the broadband
channel by role (``chip.index_of(Role.BROADBAND)``), never by position.

No numpy, no rig imports at module level: the Pi's sampling path imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from importlib import import_module
from importlib.resources import files
from pathlib import Path


class Role(Enum):
    """What a channel is for."""

    FILTER = "filter"  # an interference-filter channel of the visible/red set (used in spectra)
    NIR = "nir"  # the near-infrared filter channel (used in spectra)
    BROADBAND = "broadband"  # no filter (Clear / VIS): the output level the safety monitors read
    FLICKER = "flicker"  # the channel whose photodiode the flicker engine samples (its response stands in)


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: its name as the samples CSV spells it, its roles and (filters) its passband.

    ``peak_nm`` is the datasheet's typical peak with its min/max (centre tolerance); ``fwhm_nm`` the typical
    full width at half maximum. Broadband channels have neither (``None``).
    """

    name: str
    roles: frozenset[Role]
    peak_nm: float | None = None
    peak_min_nm: float | None = None
    peak_max_nm: float | None = None
    fwhm_nm: float | None = None

    @property
    def label(self) -> str:
        """Short label for tables and plots: "F7 630" for a filter, the name alone for broadband."""
        return self.name if self.peak_nm is None or Role.NIR in self.roles else f"{self.name} {self.peak_nm:.0f}"


@dataclass(frozen=True)
class Timing:
    """Integration timing: t_int = (ATIME + 1) x (ASTEP + 1) x ``step_us``; full scale min(``counts_max``, steps)."""

    step_us: float
    atime_max: int
    astep_max: int  # ASTEP 65535 is reserved on both ams chips
    counts_max: int  # 16-bit data registers
    default_atime: int  # the datasheet's suggested setting
    default_astep: int
    both_zero_allowed: bool = True  # DS001046: ATIME and ASTEP must not both be 0

    def check(self, atime: int, astep: int) -> str | None:
        """None if the chip accepts this ATIME/ASTEP pair, else what is wrong (for a ConfigError)."""
        if not 0 <= atime <= self.atime_max:
            return f"ATIME an integer 0..{self.atime_max}"
        if not 0 <= astep <= self.astep_max:
            return f"ASTEP an integer 0..{self.astep_max}"
        if atime == 0 and astep == 0 and not self.both_zero_allowed:
            return "ATIME and ASTEP not both 0"
        return None

    def integration_time_ms(self, atime: int, astep: int) -> float:
        return (atime + 1) * (astep + 1) * self.step_us / 1000.0

    def full_scale_counts(self, atime: int, astep: int) -> int:
        return min(self.counts_max, (atime + 1) * (astep + 1))


@dataclass(frozen=True)
class ProductionSpread:
    """How real parts differ from the typical table (standard deviations unless named a limit or range).

    Simulated units are drawn from this; calibration priors and the uncalibrated uncertainty start from it.
    ``out_of_band_range`` is the range of a part's out-of-band level as a factor of the typical table's
    (0.1x-3x: the published digitisations disagree by that much), applied to ``out_of_band_channels``: to the
    table's stated floor (``table_floor_rel``) where it has one (AS7343), else to the templates' own leakage
    (AS7341, whose simulated units so far add ``out_of_band_rel`` x peak, 1 sigma, on a red/NIR pedestal).
    """

    centre_sigma_nm: float
    centre_limit_nm: float
    width_rel: float
    skew_per_100nm: float
    sensitivity_rel: float
    out_of_band_rel: float  # additive out-of-band response, fraction of the channel's peak (1 sigma)
    out_of_band_range: tuple[float, float]
    out_of_band_channels: tuple[str, ...]
    gain_rel: float
    gain_limit_rel: float
    gain_ratio_limits: tuple[tuple[float, float], ...] = ()  # datasheet min/max ratio vs 64x per gain code, if any
    table_floor_rel: float = 0.0  # out-of-band floor built into the typical table (fraction of each peak); 0: none
    table_floor_band_nm: tuple[float, float] = (380.0, 1000.0)  # where that floor lies
    # the estimator's uncalibrated model uncertainty of the typical table for a part from this spread (standard):
    model_shift_u_nm: float = 3.0  # filter centres (the spread's centre sigma plus the table's own shape doubt)
    model_oob_u: tuple[tuple[str, float], ...] = ()  # per channel: out-of-band level, fraction of its peak
    # a part's out-of-band level changes with wavelength by exp(t (lambda - 750 nm) / 200 nm), t ~ N(0, this): its
    # leakage in red and in NIR light differ by more than one factor (0: one level at every wavelength)
    out_of_band_tilt: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Identity:
    """How ``rig check`` and the driver recognise the chip: ``(read(register) >> shift) == value``.

    ``bank_register``/``bank_bit``: a register-bank bit to set before reading (and clear after), if the ID
    register sits in a second bank (AS7343: CFG0.REG_BANK for 0x58-0x7F).
    """

    register: int
    value: int
    shift: int = 0
    bank_register: int | None = None
    bank_bit: int = 0

    def read_id(self, bus, address: int) -> int:
        """The chip's ID through an smbus2.SMBus-shaped ``bus`` (``read_byte_data``/``write_byte_data``).

        With a bank bit: set it, read, and restore the bank register as it was (one write each way).
        """
        if self.bank_register is None:
            return bus.read_byte_data(address, self.register) >> self.shift
        before = bus.read_byte_data(address, self.bank_register)
        bus.write_byte_data(address, self.bank_register, before | self.bank_bit)
        try:
            return bus.read_byte_data(address, self.register) >> self.shift
        finally:
            bus.write_byte_data(address, self.bank_register, before & ~self.bank_bit & 0xFF)

    def matches(self, chip_id: int) -> bool:
        return chip_id == self.value


@dataclass(frozen=True)
class SpectralChip:
    """What the rest of rig needs to know about a spectral chip, and where its code lives."""

    name: str
    title: str  # "AS7341 (ams OSRAM DS000504)"
    channel_specs: tuple[ChannelSpec, ...]
    gain_codes_x: tuple[float, ...]  # nominal gain per register code
    gain_ratio_vs_64x: tuple[float, ...]  # measured/typical sensitivity per code relative to 64x
    timing: Timing
    default_address: int
    identity: Identity
    responsivity_file: str  # package data file in rig/data
    spread: ProductionSpread
    driver: str  # "module:Class" of the driver (hardware)
    emulator: str  # "module:Class" of the register-level emulator (simulator)
    driver_package: str = ""  # the distribution the driver runs on (its version goes into run.json)
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = self.channels
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: channel names repeat: {names}")
        if len(self.gain_codes_x) != len(self.gain_ratio_vs_64x):
            raise ValueError(f"{self.name}: {len(self.gain_codes_x)} gain codes but "
                             f"{len(self.gain_ratio_vs_64x)} ratios")
        limits = self.spread.gain_ratio_limits
        if limits and (len(limits) != len(self.gain_codes_x) or not all(
                low <= typ <= high for (low, high), typ in zip(limits, self.gain_ratio_vs_64x, strict=True))):
            raise ValueError(f"{self.name}: gain ratio limits must bracket each typical ratio, one pair per code")
        for role in (Role.BROADBAND, Role.NIR, Role.FLICKER):
            self.index_of(role)  # exactly one channel each
        unknown = set(self.spread.out_of_band_channels) - set(names)
        if unknown:
            raise ValueError(f"{self.name}: out-of-band channels {sorted(unknown)} are not channels")

    # --- channels ---------------------------------------------------------------------------------------
    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names in the chip's order (the order of every counts row, table column and calibration)."""
        return tuple(spec.name for spec in self.channel_specs)

    @property
    def n_channels(self) -> int:
        return len(self.channel_specs)

    def indices_of(self, role: Role) -> tuple[int, ...]:
        """Indices of the channels that have ``role`` (chip order)."""
        return tuple(i for i, spec in enumerate(self.channel_specs) if role in spec.roles)

    def index_of(self, role: Role) -> int:
        """Index of THE channel with ``role`` (broadband, NIR, flicker); an error if not exactly one."""
        found = self.indices_of(role)
        if len(found) != 1:
            raise ValueError(f"{self.name}: {len(found)} channels have role {role.value}, expected one")
        return found[0]

    def name_of(self, role: Role) -> str:
        return self.channels[self.index_of(role)]

    def index(self, name: str) -> int:
        """Index of a channel by name, with a clear error."""
        try:
            return self.channels.index(name)
        except ValueError:
            raise ValueError(f"{self.name} has no channel {name!r}; channels: {', '.join(self.channels)}") from None

    def spec(self, name: str) -> ChannelSpec:
        return self.channel_specs[self.index(name)]

    @property
    def spectral_channels(self) -> tuple[str, ...]:
        """Filter channels (visible/red set and NIR), in chip order: the ones with a passband."""
        return tuple(s.name for s in self.channel_specs if Role.FILTER in s.roles or Role.NIR in s.roles)

    def filters_from(self, low_nm: float) -> tuple[str, ...]:
        """Filter channels whose typical peak is at or above ``low_nm`` (e.g. those red/NIR references reach)."""
        return tuple(s.name for s in self.channel_specs
                     if s.peak_nm is not None and s.peak_nm >= low_nm and s.name in self.spectral_channels)

    @property
    def channel_peaks_nm(self) -> dict[str, float]:
        """Typical peak per filter channel (broadband channels have none)."""
        return {s.name: s.peak_nm for s in self.channel_specs if s.peak_nm is not None}

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.channel_specs)

    def model_uncertainty(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Uncalibrated standard uncertainties of the typical table as a model of a part, in chip order:
        relative sensitivity, filter centre shift (nm; 0 for broadband) and out-of-band level (fraction of peak)."""
        oob = dict(self.spread.model_oob_u)
        rel = (self.spread.sensitivity_rel,) * self.n_channels
        shift = tuple(0.0 if Role.BROADBAND in s.roles else self.spread.model_shift_u_nm for s in self.channel_specs)
        return rel, shift, tuple(oob.get(name, 0.0) for name in self.channels)

    # --- gains and timing -----------------------------------------------------------------------------------
    def gain_code(self, gain_x: float) -> int:
        """Register code for a nominal gain; a clear error for a gain the chip does not have."""
        try:
            return self.gain_codes_x.index(float(gain_x))
        except ValueError:
            raise ValueError(f"gain {gain_x!r} is not one of {self.name}'s {self.gain_codes_x}") from None

    def gain_ratio(self, gain_x: float) -> float:
        """Sensitivity at nominal ``gain_x`` relative to 64x (the chip's measured/typical ratio)."""
        return self.gain_ratio_vs_64x[self.gain_code(gain_x)]

    def integration_time_ms(self, atime: int, astep: int) -> float:
        return self.timing.integration_time_ms(atime, astep)

    def full_scale_counts(self, atime: int, astep: int) -> int:
        return self.timing.full_scale_counts(atime, astep)

    # --- table and code ------------------------------------------------------------------------------------
    def responsivity_path(self) -> Path:
        """The chip's typical responsivity table (package data)."""
        return Path(str(files("rig") / "data" / self.responsivity_file))

    def check_table_columns(self, path: str | Path) -> None:
        """A ValueError naming the file unless its header row is ``wavelength_nm`` + this chip's channels."""
        with open(path, encoding="utf-8") as handle:
            header = next((line for line in handle if not line.startswith("#")), "")
        columns = tuple(c.strip() for c in header.strip().split(","))
        expected = ("wavelength_nm", *self.channels)
        if columns != expected:
            raise ValueError(f"{path}: columns {', '.join(columns)}; expected {', '.join(expected)} "
                             f"(a {self.name} responsivity table)")

    def load(self, which: str):
        """The driver or emulator class (imported only when asked: the Pi never imports the simulator)."""
        module, _, name = getattr(self, which).partition(":")
        return getattr(import_module(module), name)
