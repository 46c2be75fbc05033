"""I2C cost of one full 10-channel reading: rig's reader vs the stock Adafruit driver calls.

Counted on the emulated bus (transactions, bytes) and the emulated chip (integrations started).
"""

import adafruit_as7341

from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.spectral import SpectralSensor
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine


def measure(read, bus: SimBus, chip: AS7341Emulator) -> tuple[int, int, int]:
    bus.counters.reset()
    started = chip.integrations_started
    read()
    return bus.counters.transactions, bus.counters.bytes_total, chip.integrations_started - started


def test_rig_reading_costs_a_fraction_of_the_stock_driver():
    clock, bus = SimClock(), SimBus()
    chip = bus.attach(0x39, AS7341Emulator(clock, FixedLight([SpectralLine(660.0, 20.0, 300.0)])))
    rows = []
    with install_sim_clock(clock):
        stock = adafruit_as7341.AS7341(bus.busio())
        stock.gain = 3  # 4x, as rig uses, so neither saturates
        stock_default = measure(lambda: (stock.all_channels, stock.channel_clear, stock.channel_nir), bus, chip)
        stock.atime, stock.astep = 29, 599  # the same 50 ms integration as rig
        stock_50ms = measure(lambda: (stock.all_channels, stock.channel_clear, stock.channel_nir), bus, chip)
        sensor = SpectralSensor(bus.busio(), SpectralConfig(auto_range=False), clock, "ND 2.0", 0.01)
        ours = measure(sensor.read_raw, bus, chip)
    rows = [("stock all_channels+clear+nir, driver default 281 ms", *stock_default),
            ("stock all_channels+clear+nir, 50 ms", *stock_50ms),
            ("rig SpectralSensor.read_raw, 50 ms", *ours)]
    print("\nper full 10-channel reading        transactions   bytes   integrations")
    for name, transactions, nbytes, integrations in rows:
        print(f"{name:<52} {transactions:>6} {nbytes:>7} {integrations:>6}")
    print(f"rig / stock (50 ms): transactions {ours[0] / stock_50ms[0]:.3f}, bytes {ours[1] / stock_50ms[1]:.3f}")
    print("(the stock driver polls STATUS2 every 1 ms while it integrates; rig sleeps the integration time first)")
    assert ours[0] <= stock_50ms[0] / 3
    assert ours[2] == 2
