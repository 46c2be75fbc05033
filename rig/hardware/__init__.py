"""The bench's devices, one class each and the same for real and simulated hardware (only the bus and pin factory
differ): each spectral chip's reader on its Adafruit driver (:mod:`~rig.hardware.reader` the part they share,
:mod:`~rig.hardware.spectral` the AS7341's, :mod:`~rig.hardware.as7343` the AS7343's), the AS7341's flicker
capture, the NTC probes on the ADS1115, the wrap's switch, and the :class:`~rig.hardware.bench.Bench` that holds
them, carries the chip and switches the wrap off on every exit."""
