"""A registry clock the tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """``Registry(clock=…)``, moved by hand (``clock.now += timedelta(…)``); chunk stores keep real time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now
