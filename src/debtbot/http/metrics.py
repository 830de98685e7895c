"""Prometheus `/metrics`, one CollectorRegistry per app (tests build many apps).

Messages and verification figures are read from the database at scrape time: the sender and
the bot may run in other processes, and the outbox and the attempts table are the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from debtbot.domain.messages import DeliveryStatus, OutboxPurpose
from debtbot.http.base import DEPS_KEY
from debtbot.services.api_status import Snapshot, metrics_snapshot

log = logging.getLogger(__name__)

PATH = "/metrics"


class DatabaseFigures(Collector):
    """Turns the latest snapshot into metric families; filled just before each scrape."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        up = GaugeMetricFamily("debtbot_database_up", "1 if the database answered this scrape")
        up.add_metric([], 0 if snapshot is None else 1)
        yield up
        if snapshot is None:
            return
        sent = CounterMetricFamily(
            "debtbot_messages_sent", "Messages delivered to Telegram, by kind", labels=["kind"]
        )
        failed = CounterMetricFamily(
            "debtbot_messages_failed",
            "Messages given up on (failed after retries, or the user blocked the bot), by kind",
            labels=["kind", "reason"],
        )
        depth = GaugeMetricFamily(
            "debtbot_outbox_depth", "Messages waiting to be sent, by kind", labels=["kind"]
        )
        for purpose in OutboxPurpose:
            counts = {status: snapshot.outbox.get((purpose.value, status.value), 0)
                      for status in DeliveryStatus}
            sent.add_metric([purpose.value], counts[DeliveryStatus.SENT])
            failed.add_metric([purpose.value, "failed"], counts[DeliveryStatus.FAILED])
            failed.add_metric([purpose.value, "blocked"], counts[DeliveryStatus.BLOCKED])
            depth.add_metric(
                [purpose.value], counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING]
            )
        yield from (sent, failed, depth)
        attempts = CounterMetricFamily(
            "debtbot_verification_attempts",
            "Identity verification attempts, by method and result",
            labels=["method", "result"],
        )
        for (method, succeeded), count in sorted(snapshot.verification.items()):
            attempts.add_metric([method, "success" if succeeded else "failure"], count)
        yield attempts
        lockouts = GaugeMetricFamily(
            "debtbot_verification_lockouts",
            "Chats and identifiers locked out by too many failed verifications right now",
            labels=["subject"],
        )
        lockouts.add_metric(["chat"], snapshot.locked_chats)
        lockouts.add_metric(["identifier"], snapshot.locked_identifiers)
        yield lockouts
        unknown = GaugeMetricFamily(
            "debtbot_debts_unknown_authority",
            "Outstanding debts whose registry authority is not in authorities.toml",
        )
        unknown.add_metric([], snapshot.unknown_authority)
        yield unknown
        differ = GaugeMetricFamily(
            "debtbot_debts_registry_dates_differ",
            "Outstanding debts whose registry surcharge/prosecution dates differ from the "
            "rulebook's",
        )
        differ.add_metric([], snapshot.registry_dates_differ)
        yield differ


REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
FIGURES_KEY = web.AppKey("metrics_figures", DatabaseFigures)
REQUESTS_KEY = web.AppKey("metrics_requests", Counter)


def install(app: web.Application) -> None:
    registry = CollectorRegistry()
    figures = DatabaseFigures()
    registry.register(figures)
    app[REGISTRY_KEY] = registry
    app[FIGURES_KEY] = figures
    app[REQUESTS_KEY] = Counter(
        "debtbot_http_requests",
        "HTTP requests answered, by operation and status",
        ["operation", "status"],
        registry=registry,
    )
    app.router.add_get(PATH, scrape, name="metrics")


async def scrape(request: web.Request) -> web.Response:
    figures = request.app[FIGURES_KEY]
    try:
        snapshot = await metrics_snapshot(request.app[DEPS_KEY])
    except Exception as exc:  # the scrape still answers, with debtbot_database_up 0
        log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
        snapshot = None
    figures.snapshot = snapshot  # no await between this and the rendering below
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def count_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    route = request.match_info.route
    operation = route.name if route is not None and route.name else "unmatched"
    request.app[REQUESTS_KEY].labels(operation, str(response.status)).inc()
    return response
