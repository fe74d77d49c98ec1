"""The push/pull progress callback: exact byte counts from many threads, and a bar only when visible."""

from __future__ import annotations

import threading

from modelreg.cli.progress import TransferMeter


def test_push_meter_counts_bytes_from_many_threads() -> None:
    meter = TransferMeter.for_push(visible=False)
    with meter:
        meter("total", 8000 * 8)
        workers = [threading.Thread(target=_feed, args=(meter,)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert meter.counts == {"total": 64000, "hashed": 64000, "stored": 8000}


def _feed(meter: TransferMeter) -> None:
    for _ in range(1000):
        meter("hashed", 8)
    for _ in range(1000):
        meter("stored", 1)


def test_pull_meter_separates_fetched_from_cached() -> None:
    with TransferMeter.for_pull(visible=False) as meter:
        meter("total", 300)
        meter("fetched", 100)
        meter("cached", 200)
        meter("a-future-event", 5)  # unknown events are counted, never fatal
    assert (meter.counts["fetched"], meter.counts["cached"]) == (100, 200)


def test_a_visible_meter_draws_and_stops(capsys: object) -> None:
    with TransferMeter.for_push(visible=True) as meter:
        meter("total", 2_000_000)
        meter("hashed", 2_000_000)
        meter("stored", 500_000)
    assert meter.counts["stored"] == 500_000
