"""Bounded retries with back-off for transient I2C errors (OSError 121 remote I/O, 5 I/O error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rig.clock import Clock
from rig.errors import SensorFault

T = TypeVar("T")
ATTEMPTS = 4
FIRST_BACKOFF_S = 0.005


class RetryCounter:
    """How many transient errors were retried (shared by a bench's devices; read by the sampler)."""

    def __init__(self) -> None:
        self.retries = 0


def with_retries(action: Callable[[], T], clock: Clock, what: str, counter: RetryCounter | None = None,
                 attempts: int = ATTEMPTS) -> T:
    """Run ``action``; on OSError (or a SensorFault caused by one) wait 5, 10, 20 ms and try again.

    After ``attempts`` failures the last error becomes a :class:`SensorFault` naming ``what``.
    """
    backoff = FIRST_BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (OSError, SensorFault) as error:
            transient = isinstance(error, OSError) or isinstance(error.__cause__, OSError)
            if not transient or attempt == attempts:
                if isinstance(error, SensorFault):
                    raise
                raise SensorFault(f"{what}: I2C error after {attempt} attempts ({error})") from error
            if counter is not None:
                counter.retries += 1
            clock.sleep(backoff)
            backoff *= 2
    raise AssertionError("unreachable")
