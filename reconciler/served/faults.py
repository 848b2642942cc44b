"""Injected faults: what a real platform does to its clients on a bad day, on demand and repeatable.

``authctl platform serve --latency-ms/--error-rate/--rate-limit/--drop-create-rate`` turn
them on so that the ``lytics`` backend's retries, backoff and crash recovery are tested
against real HTTP. Every random choice comes from one RNG seeded by ``--seed``, so a failing
run can be replayed. The server runs one event loop and the faults are decided on it, so
the RNG and the token bucket need no lock.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultSettings:
    """What to inject; the defaults inject nothing."""

    latency_ms: int = 0  # added to every /v2 request, before it queues for the platform
    error_rate: float = 0.0  # share of /v2 requests answered 500 or 503 before anything is done
    rate_limit: float | None = None  # requests per second above which the answer is 429
    drop_create_rate: float = 0.0  # share of creates done and then answered by a dropped connection
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_create_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {self.latency_ms}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be more than 0 requests per second, got {self.rate_limit}")


class TokenBucket:
    """``rate`` requests per second on average, bursts up to ``max(1, rate)``."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def take(self) -> bool:
        """Whether one more request fits now (and spend its token)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Faults:
    """Decides, request by request, which fault (if any) a request meets."""

    def __init__(self, settings: FaultSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._bucket = TokenBucket(settings.rate_limit, clock) if settings.rate_limit else None

    async def delay(self) -> None:
        """The injected latency (awaited, so concurrent requests wait it out together)."""
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)

    def throttled(self) -> bool:
        return self._bucket is not None and not self._bucket.take()

    def injected_error(self) -> int | None:
        """500 or 503 (one at random) for the share ``error_rate`` of requests; None otherwise."""
        if self.settings.error_rate and self._rng.random() < self.settings.error_rate:
            return self._rng.choice((500, 503))
        return None

    def drop_create(self) -> bool:
        return bool(self.settings.drop_create_rate) and self._rng.random() < self.settings.drop_create_rate
