"""Prometheus metrics in the text exposition format, kept by hand.

Three families are all the service needs, and writing them is a few lines, so
no client library is worth its import time. Counts are per process: with
WORKERS > 1 each scrape sees one worker (scale out with one worker per pod).
"""

from bisect import bisect_left
from collections import Counter
from threading import Lock

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds; dense below 10 ms where a healthy /predict lives."""


class Metrics:
    """Request counts by route and status, request latency, and predictions by digit."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._bucket_counts: dict[str, list[int]] = {}
        self._latency_sum: Counter[str] = Counter()
        self._predictions: Counter[str] = Counter()

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one finished request and file its latency."""
        with self._lock:
            self._requests[route, status] += 1
            buckets = self._bucket_counts.setdefault(route, [0] * (len(LATENCY_BUCKETS) + 1))
            buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum[route] += seconds

    def observe_predictions(self, digits: list[int | None]) -> None:
        """Count answered digits; a blank canvas counts as "blank"."""
        with self._lock:
            self._predictions.update("blank" if d is None else str(d) for d in digits)

    def render(self) -> str:
        """The exposition text for GET /metrics."""
        lines = [
            "# HELP http_requests_total HTTP requests answered, by route and status.",
            "# TYPE http_requests_total counter",
        ]
        with self._lock:
            for (route, status), count in sorted(self._requests.items()):
                lines.append(f'http_requests_total{{route="{route}",status="{status}"}} {count}')
            lines += [
                "# HELP http_request_duration_seconds Time from request to response, by route.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for route, buckets in sorted(self._bucket_counts.items()):
                cumulative = 0
                for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), buckets, strict=True):
                    cumulative += count
                    lines.append(
                        f'http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} '
                        f"{cumulative}"
                    )
                lines.append(
                    f'http_request_duration_seconds_sum{{route="{route}"}} '
                    f"{self._latency_sum[route]:.6f}"
                )
                lines.append(f'http_request_duration_seconds_count{{route="{route}"}} {cumulative}')
            lines += [
                "# HELP predictions_total Predictions made, by digit (or blank).",
                "# TYPE predictions_total counter",
            ]
            for digit, count in sorted(self._predictions.items()):
                lines.append(f'predictions_total{{digit="{digit}"}} {count}')
        return "\n".join(lines) + "\n"
