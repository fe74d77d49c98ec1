"""Prometheus metrics, served at ``/metrics``.

    modelreg_http_requests_total{method,route,status}              requests answered
    modelreg_http_request_duration_seconds{method,route,status}    latency histogram (to the last body byte)
    modelreg_http_received_bytes_total{route}                      request body bytes
    modelreg_http_sent_bytes_total{route}                          response body bytes
    modelreg_dedup_chunks_total{answer}                            chunks clients were told not to send
    modelreg_dedup_bytes_total{answer}                             bytes clients were told not to send

``route`` is the route template (``/api/v1/models/{name}``), never the raw path, so user-chosen names cannot
blow up the number of series; unmatched paths are counted as ``<unmatched>``. ``answer`` is
``missing_chunks`` (chunks the store already had) or ``known_files`` (whole files the registry already
had, with their chunks). Bytes are known exactly only for ``known_files``: a missing-chunks request carries
digests without sizes, and asking the store for each size would double the cost of the call.

Counters are **per process**: with ``--workers N`` a scrape reaches one worker. Scrape each replica with one
worker for exact totals, or sum what the workers report over time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["UNMATCHED", "Metrics"]

UNMATCHED = "<unmatched>"
# Metadata calls take ~1 ms, chunk transfers up to seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One set of metrics per app, in its own registry (so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self._requests = Counter(
            "modelreg_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self._latency = Histogram(
            "modelreg_http_request_duration_seconds",
            "Time from request start to the last response byte.",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._received = Counter(
            "modelreg_http_received_bytes", "Request body bytes received.", ("route",), registry=self.registry
        )
        self._sent = Counter(
            "modelreg_http_sent_bytes", "Response body bytes sent.", ("route",), registry=self.registry
        )
        self._dedup_chunks = Counter(
            "modelreg_dedup_chunks",
            "Chunks clients were told they need not send.",
            ("answer",),
            registry=self.registry,
        )
        self._dedup_bytes = Counter(
            "modelreg_dedup_bytes",
            "Bytes clients were told they need not send.",
            ("answer",),
            registry=self.registry,
        )

    def observe_request(
        self, method: str, route: str, status: int, seconds: float, *, received: int, sent: int
    ) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route, str(status)).observe(seconds)
        if received:
            self._received.labels(route).inc(received)
        if sent:
            self._sent.labels(route).inc(sent)

    def observe_missing_chunks(self, asked: Sequence[str], missing: Sequence[str]) -> None:
        present = len(set(asked)) - len(missing)
        if present > 0:
            self._dedup_chunks.labels("missing_chunks").inc(present)

    def observe_known_files(self, files: Mapping[str, Sequence[tuple[str, int]]]) -> None:
        chunks = sum(len(chunk_list) for chunk_list in files.values())
        if chunks:
            self._dedup_chunks.labels("known_files").inc(chunks)
        size = sum(chunk_size for chunk_list in files.values() for _, chunk_size in chunk_list)
        if size:
            self._dedup_bytes.labels("known_files").inc(size)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
