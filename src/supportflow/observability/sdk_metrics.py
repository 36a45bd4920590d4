"""The Temporal SDK's own metrics (workflow/activity task latencies, slots, pollers, sticky
cache, requests to the server) on the same /metrics as ours.

The SDK's core can serve Prometheus itself, but on a port of its own: a process would then
have two endpoints, and the embedded stack's API could not show its worker's figures. So the
core records into a ``MetricBuffer`` instead, a thread drains it every second into this
collector, and the process's one registry serves both. Counters add up deltas, gauges keep
the last value, histograms (durations, in seconds) fall into fixed buckets.

The buffer belongs to a ``Runtime``, fixed when a client connects: ``SdkMetrics.install``
makes it the process's default runtime, which every later ``Client.connect`` (and the dev
server's client) uses. Clients made before keep theirs and report nothing here.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

from supportflow.observability.core_logs import core_logging

log = logging.getLogger(__name__)

# Updates the core may hold between two drains (a busy worker makes a few thousand a second).
BUFFER_SIZE = 200_000
DRAIN_SECONDS = 1.0
# Seconds: from a local activity (ms) to a long poll (tens of seconds).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

_Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.buckets[i] += 1
                break


@dataclass
class _Family:
    kind: int
    description: str
    series: dict[_Labels, float | _Histogram] = field(default_factory=dict)


def _name(raw: str) -> str:
    # Prometheus names: the core's are already snake case; counters get _total from the family.
    return raw.removesuffix("_total")


class SdkMetricsCollector(Collector):
    """Holds what the drained updates add up to; ``collect`` drains once more first."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        # The core hands out one attributes object per attribute set: their labels, by id
        # (the object kept alongside, so its id is never reused while cached).
        self._labels: dict[int, tuple[object, _Labels]] = {}

    def drain(self) -> int:
        with self._lock:
            updates = self._buffer.retrieve_updates()
            for u in updates:
                self._apply(u)
            return len(updates)

    def _apply(self, u: BufferedMetricUpdate) -> None:
        metric = u.metric
        family = self._families.get(metric.name)
        if family is None:
            family = _Family(metric.kind, metric.description or metric.name)
            self._families[metric.name] = family
        attributes = u.attributes
        cached = self._labels.get(id(attributes))
        if cached is None:
            cached = (attributes, _labels(attributes))
            self._labels[id(attributes)] = cached
        labels = cached[1]
        value = float(u.value)
        if family.kind == BUFFERED_METRIC_KIND_COUNTER:
            current = family.series.get(labels, 0.0)
            assert isinstance(current, float)
            family.series[labels] = current + value
        elif family.kind == BUFFERED_METRIC_KIND_GAUGE:
            family.series[labels] = value
        else:
            hist = family.series.setdefault(labels, _Histogram())
            assert isinstance(hist, _Histogram)
            hist.observe(value)

    def collect(self) -> Iterator[Metric]:
        try:
            self.drain()
        except Exception:
            log.warning("Temporal SDK metrics could not be read; serving the last figures")
        with self._lock:
            snapshot = list(self._families.items())
            for raw, family in snapshot:
                yield _family_metric(raw, family)


def _labels(attributes: Mapping[str, object]) -> _Labels:
    return tuple(sorted((str(k), str(v)) for k, v in attributes.items()))


def _family_metric(raw: str, family: _Family) -> Metric:
    name = _name(raw)
    label_names = sorted({k for labels in family.series for k, _ in labels})

    def values(labels: _Labels) -> list[str]:
        given = dict(labels)
        return [given.get(k, "") for k in label_names]

    if family.kind == BUFFERED_METRIC_KIND_COUNTER:
        counter = CounterMetricFamily(name, family.description, labels=label_names)
        for labels, v in family.series.items():
            assert isinstance(v, float)
            counter.add_metric(values(labels), v)
        return counter
    if family.kind == BUFFERED_METRIC_KIND_GAUGE:
        gauge = GaugeMetricFamily(name, family.description, labels=label_names)
        for labels, v in family.series.items():
            assert isinstance(v, float)
            gauge.add_metric(values(labels), v)
        return gauge
    hist_family = HistogramMetricFamily(name, family.description, labels=label_names)
    for labels, h in family.series.items():
        assert isinstance(h, _Histogram)
        cumulative, running = [], 0
        for bound, n in zip(BUCKETS, h.buckets, strict=True):
            running += n
            cumulative.append((_bound(bound), float(running)))
        cumulative.append(("+Inf", float(h.count)))
        hist_family.add_metric(values(labels), cumulative, h.total)
    return hist_family


def _bound(b: float) -> str:
    return str(int(b)) if math.isclose(b, round(b)) and b >= 1 else str(b)


class SdkMetrics:
    """A runtime whose metrics land in ``registry``, drained by a daemon thread."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
        self.runtime = Runtime(
            telemetry=TelemetryConfig(metrics=self.buffer, logging=core_logging())
        )
        self.collector = SdkMetricsCollector(self.buffer)
        self._registry = registry
        registry.register(self.collector)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._drain_forever, name="temporal-sdk-metrics", daemon=True
        )
        self._thread.start()

    def install(self) -> None:
        """Make this the runtime of every client connected from now on in this process."""
        Runtime.set_default(self.runtime, error_if_already_set=False)

    def _drain_forever(self) -> None:
        while not self._stop.wait(DRAIN_SECONDS):
            try:
                self.collector.drain()
            except Exception:
                log.warning("Temporal SDK metrics: draining failed; trying again")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._registry.unregister(self.collector)
