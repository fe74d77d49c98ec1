"""Push and pull progress: counts the SDK's byte events and, when a person is watching, draws a Rich bar.

The SDK calls ``progress(event, nbytes)``, possibly from several worker threads:

    push   ("total", n) once, then increments ("hashed", n), ("unchanged", n) and ("stored", n)
    pull   ("total", n) once, then increments ("fetched", n) and ("cached", n)

The bar advances with the bytes processed (hashed, or fetched + cached) and its speed column is the
throughput; beside it the bytes that really moved (stored / fetched) show what deduplication saved.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from modelreg.cli.output import format_bytes

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["TransferMeter"]


class TransferMeter:
    """A ``progress`` callback for ``push``/``pull`` and a context manager for its bar."""

    def __init__(
        self,
        label: str,
        *,
        advances: frozenset[str],
        detail: Callable[[Counter[str]], str],
        visible: bool,
    ) -> None:
        self.counts: Counter[str] = Counter()
        self._label = label
        self._advances = advances
        self._detail = detail
        self._visible = visible
        self._lock = threading.Lock()  # events arrive from the SDK's worker threads
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @classmethod
    def for_push(cls, *, visible: bool) -> TransferMeter:
        def detail(counts: Counter[str]) -> str:
            return f"{format_bytes(counts['stored'])} new"

        return cls("hashing", advances=frozenset({"hashed", "unchanged"}), detail=detail, visible=visible)

    @classmethod
    def for_pull(cls, *, visible: bool) -> TransferMeter:
        def detail(counts: Counter[str]) -> str:
            return f"{format_bytes(counts['fetched'])} fetched, {format_bytes(counts['cached'])} cached"

        return cls("pulling", advances=frozenset({"fetched", "cached"}), detail=detail, visible=visible)

    def __call__(self, event: str, nbytes: int) -> None:
        with self._lock:
            if event == "total":
                self.counts["total"] = nbytes
            else:
                self.counts[event] += nbytes
            detail = self._detail(self.counts)
        if self._progress is not None and self._task is not None:
            self._draw(event, nbytes, detail, self._progress, self._task)

    def _draw(self, event: str, nbytes: int, detail: str, progress: Progress, task: TaskID) -> None:
        if event == "total":
            progress.update(task, total=nbytes, detail=detail)
        elif event in self._advances:
            progress.update(task, advance=nbytes, detail=detail)
        else:
            progress.update(task, detail=detail)

    def __enter__(self) -> TransferMeter:
        if self._visible:
            self._progress = _new_progress()
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=None, detail="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


def _new_progress() -> Progress:
    # rich.progress costs ~20 ms that --help and --json never need.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
