"""The app's Prometheus metrics: defined once here, observed by the doors and the drain, and
rendered for a scrape of /metrics (the ops door) in the text format.

One process (`flask run`, the demo, the tests) keeps the values in memory. Under gunicorn
(deploy/gunicorn.conf.py) every process writes them to files in PROMETHEUS_MULTIPROC_DIR and a
scrape, answered by any worker, adds up the files of them all: prometheus_client reads that
variable once, when it is first imported, so it is set before the workers start. A scheduler
process given the same directory adds its job runs to the same files.

The figures a scrape reads from the database (the outbox's depth, the scheduler's lease) are
not counted here: the ops door hands in a function returning a ``Snapshot``, which the
application layer takes with one cheap query each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import values as _values
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

# Whether prometheus_client keeps its values in PROMETHEUS_MULTIPROC_DIR (chosen at its import).
MULTIPROCESS = bool(getattr(_values.ValueClass, "_multiprocess", False))

CONTENT_TYPE = CONTENT_TYPE_LATEST

# No *_created series: under gunicorn there are none (multiprocess mode), nor here, so a scrape
# shows the same series whichever way the app runs.
disable_created_metrics()

# The metrics of this process (one process: the scrape reads them from here).
REGISTRY = CollectorRegistry()

# Bucket bounds, in seconds, are part of each histogram's definition (changing them changes
# its series), so they are fixed here rather than settings. A callback must be answered far
# inside WeChat's 5 s; an API request likewise; a send waits up to its connect + read timeouts;
# a job may take minutes (the monthly report for 2,000 branches).
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

# The outcomes of a WeChat callback: answered (dispatched now), duplicate (a retry answered with
# the stored reply), busy (the database stayed locked: the member is asked to retry), refused
# (timestamp, signature or decryption: 403), bad_request (400), too_large (413), error (500).
CALLBACK_OUTCOMES = (
    "answered",
    "duplicate",
    "busy",
    "refused",
    "bad_request",
    "too_large",
    "error",
)

CALLBACKS = Counter(
    "zhibu_callbacks",
    "WeChat callbacks (POST /wechat) by outcome",
    ["outcome"],
    registry=REGISTRY,
)
CALLBACK_SECONDS = Histogram(
    "zhibu_callback_seconds",
    "Time to answer a WeChat callback",
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "zhibu_api_requests",
    "Mini-program API requests by route (the URL rule), method and HTTP status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
API_SECONDS = Histogram(
    "zhibu_api_request_seconds",
    "Time to answer a mini-program API request, by route",
    ["route"],
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
OUTBOX_ROWS = Counter(
    "zhibu_outbox_rows",
    "Outbox rows the drain finished with, by outcome (sent, failed, dead, deferred, skipped)",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX_OUTCOMES = ("sent", "failed", "dead", "deferred", "skipped")
OUTBOX_SEND_SECONDS = Histogram(
    "zhibu_outbox_send_seconds",
    "Time one message part took to send, by channel and result (ok, error)",
    ["channel", "result"],
    buckets=SEND_BUCKETS,
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "zhibu_job_runs",
    "Scheduled job runs by job and outcome (ok, failed, skipped: the tick had run already)",
    ["job", "outcome"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "zhibu_job_seconds",
    "Time a scheduled job ran, by job",
    ["job"],
    buckets=JOB_BUCKETS,
    registry=REGISTRY,
)


# Every outcome shows from the start, at 0, so a rate over it is defined before the first one.
for _outcome in CALLBACK_OUTCOMES:
    CALLBACKS.labels(_outcome)
for _outcome in OUTBOX_OUTCOMES:
    OUTBOX_ROWS.labels(_outcome)


@dataclass(frozen=True)
class Snapshot:
    """What a scrape reads from the database: whether it answered, the outbox rows waiting
    or stuck by status, and the scheduler that holds the lease (None: nobody)."""

    database_up: bool
    outbox: Mapping[str, int] = field(default_factory=dict)
    lease_holder: str | None = None


def snapshot_families(snapshot: Snapshot) -> list[Metric]:
    """The gauges of a snapshot; without a database, only zhibu_database_up (0)."""
    up = GaugeMetricFamily(
        "zhibu_database_up", "1 when the database answered the scrape's queries, else 0"
    )
    up.add_metric([], 1.0 if snapshot.database_up else 0.0)
    if not snapshot.database_up:
        return [up]
    outbox = GaugeMetricFamily(
        "zhibu_outbox_messages",
        "Outbox rows waiting (pending), being sent (sending) or given up (dead), by status",
        labels=["status"],
    )
    for status, rows in sorted(snapshot.outbox.items()):
        outbox.add_metric([status], float(rows))
    held = GaugeMetricFamily(
        "zhibu_scheduler_lease_held", "1 when a scheduler holds the lease, else 0"
    )
    held.add_metric([], 1.0 if snapshot.lease_holder else 0.0)
    holder = GaugeMetricFamily(
        "zhibu_scheduler_lease_holder",
        "The scheduler process (host:pid:id) that holds the lease, as a label; value 1",
        labels=["holder"],
    )
    if snapshot.lease_holder:
        holder.add_metric([snapshot.lease_holder], 1.0)
    return [up, outbox, held, holder]


@dataclass(frozen=True)
class _Collect:
    """A collector made of a function (a registry asks only for ``collect``)."""

    collect: Callable[[], Iterable[Metric]]


def exposition(take_snapshot: Callable[[], Snapshot]) -> bytes:
    """Render every metric for a scrape: this process's (or, under gunicorn, every process's
    from PROMETHEUS_MULTIPROC_DIR) and the snapshot's gauges, taken now."""
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_Collect(REGISTRY.collect))
    registry.register(_Collect(lambda: snapshot_families(take_snapshot())))
    return generate_latest(registry)
