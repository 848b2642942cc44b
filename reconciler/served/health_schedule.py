"""``authctl platform serve --health-interval 24h``: the platform's own periodic health checks.

A real platform checks every credential at least daily and shows the result on its
dashboard; an unattended served platform does the same: a background thread runs the
credential worker over every authorization at start and then every interval, recording
the results as ``authctl health`` would. It stops between two checks when the server
stops (an interval's wait ends at once; a run in progress finishes the checks already
started and skips the rest). Failures are logged by kind, never with a value.
"""

from __future__ import annotations

import logging
import re
import threading

from reconciler.oauth.worker import ProviderWorker
from reconciler.served.gateway import PlatformGateway
from reconciler.vocabulary import Health

log = logging.getLogger("authctl.served")
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_SECONDS = 1.0


def parse_interval(text: str) -> float:
    """``90``, ``30s``, ``15m``, ``24h``, ``7d`` -> seconds; ValueError saying what is accepted."""
    match = _INTERVAL.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not an interval: a number with s, m, h or d (e.g. 24h)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"{text!r} is too short: at least {MIN_INTERVAL_SECONDS:g}s")
    return seconds


class HealthSchedule:
    """A daemon thread running the worker over every authorization, now and then every ``interval`` seconds."""

    def __init__(self, worker: ProviderWorker, gateway: PlatformGateway, interval: float,
                 concurrency: int = 20) -> None:
        self.worker = worker
        self.gateway = gateway
        self.interval = interval
        self.concurrency = concurrency
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="authctl-health-schedule", daemon=True)

    def start(self) -> HealthSchedule:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> None:
        ids = self.gateway.call(lambda p: [record.id for record in p.list_authorizations()])
        reports = self.worker.check_health(ids, self.concurrency, stop=self._stop)
        self.runs += 1
        tally = {h: sum(1 for r in reports if r.status is h) for h in Health}
        log.info("scheduled health check of %d authorizations: %d healthy, %d unhealthy, %d unknown", len(reports),
                 tally[Health.HEALTHY], tally[Health.UNHEALTHY], tally[Health.UNKNOWN])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the next run may succeed; the server keeps serving
                log.warning("scheduled health check failed: %s", type(exc).__name__)
            if self._stop.wait(self.interval):
                return


__all__ = ["HealthSchedule", "parse_interval"]
