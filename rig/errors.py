"""Exceptions with messages a bench user can act on."""

from __future__ import annotations


class RigError(Exception):
    """Base for every error rig raises on purpose."""


class ConfigError(RigError):
    """A user-written file is malformed: names the file, the key and what was expected."""

    def __init__(self, path: str, key: str, expected: str, got: object = None) -> None:
        self.path, self.key, self.expected, self.got = path, key, expected, got
        detail = f" (got {got!r})" if got is not None else ""
        super().__init__(f"{path}: '{key}': expected {expected}{detail}")


class HardwareNotFound(RigError):
    """A chip did not answer on the real bench (never falls back to simulation)."""


class SensorFault(RigError):
    """A sensor gave no usable reading (NACK after retries, stuck value, probe fault)."""


class FlickerUnavailable(RigError):
    """The bench's chip has no flicker capture rig can read: the pulse check is not measured."""
