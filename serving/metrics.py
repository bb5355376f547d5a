"""Prometheus metrics, right for any number of worker processes.

prometheus-client's multiprocess mode is used when PROMETHEUS_MULTIPROC_DIR is set
(serving.runtime.server sets it to a fresh directory for WORKERS > 1): each worker writes its
counts to files there, and a scrape of any worker adds up all of them. With one
process, each app keeps its own registry in memory (so tests can build several).
"""

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

disable_created_metrics()  # the *_created series only say when a worker started

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds; dense below 10 ms where a healthy /predict lives."""
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Request counts by route and status, request latency, and predictions by digit."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry()
        self._requests = Counter(
            "http_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=self._registry,
        )
        self._latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self._registry,
        )
        self._predictions = Counter(
            "predictions",
            "Predictions made, by digit (or blank).",
            ["digit"],
            registry=self._registry,
        )
        # The labelled series, looked up once: labels() costs more than the increment.
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._digits: dict[int | None, Counter] = {}
        self._feedback = Counter(
            "feedback",
            "POST /feedback submissions, by outcome: stored, duplicate (a resent one), "
            "rejected (4xx), disabled (FEEDBACK=off), failed (the database).",
            ["outcome"],
            registry=self._registry,
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one finished request and file its latency."""
        children = self._children.get((route, status))
        if children is None:  # routes and statuses are few: the cache stays small
            children = (self._requests.labels(route, str(status)), self._latency.labels(route))
            self._children[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_predictions(self, digits: list[int | None]) -> None:
        """Count answered digits; a blank canvas counts as "blank"."""
        for digit in digits:
            child = self._digits.get(digit)
            if child is None:  # made on first use: /metrics shows only digits seen
                child = self._predictions.labels("blank" if digit is None else str(digit))
                self._digits[digit] = child
            child.inc()

    def observe_feedback(self, outcome: str) -> None:
        """Count one feedback submission by its outcome; never its content."""
        self._feedback.labels(outcome).inc()

    def render(self) -> str:
        """The exposition text for GET /metrics: every worker's counts, added up."""
        directory = os.environ.get(MULTIPROCESS_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
            return generate_latest(registry).decode()
        return generate_latest(self._registry).decode()
