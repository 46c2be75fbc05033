"""The simulated bench: register-level emulators of the chips behind an emulated I2C bus, a physical model of the
wrap (as described, :mod:`~rig.sim.wrap`, and over time, :mod:`~rig.sim.wrap_model`), sensor units drawn from
the production spread, and :mod:`~rig.sim.backend` that builds the bench the real drivers then talk to."""
