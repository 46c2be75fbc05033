"""The bench's devices, one class each and the same for real and simulated hardware (only the bus and pin factory
differ): the spectral sensor, the flicker capture, the NTC probes on the ADS1115, the wrap's switch, and the
:class:`~rig.hardware.bench.Bench` that holds them and switches the wrap off on every exit."""
