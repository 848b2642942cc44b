"""Durations people type (``30m``, ``24h``, ``7d``) and ages people read ("3 hours ago").

One grammar for options that take a span of time, the one ``platform serve
--health-interval`` documents: a number and a unit, ``s``, ``m``, ``h`` or ``d`` (a bare
number is seconds). Pure: no clock here; callers pass the seconds they measured.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_HELP = "a number with s, m, h or d, e.g. 30m, 24h or 7d"


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``15m``, ``24h``, ``7d`` -> seconds; ValueError saying what is accepted."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: {DURATION_HELP}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def age_words(seconds: float) -> str:
    """How long, as a person says it: ``45 seconds``, ``12 minutes``, ``3 hours``, ``9 days`` (rounded down).

    Hours up to two days and days after, so that "47 hours" reads as the almost two days it is
    and a week-old snapshot is "7 days", not "168 hours".
    """
    whole = max(0, int(seconds))
    for limit, size, unit in ((120, 1, "second"), (2 * 3600, 60, "minute"), (2 * 86400, 3600, "hour")):
        if whole < limit:
            count = whole // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = whole // 86400
    return f"{count} days"
