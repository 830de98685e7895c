"""Prometheus `/metrics`, one CollectorRegistry per app (tests build many apps).

The outbox depth and verification figures are read from the database at scrape time.
Messages sent, failed and blocked, and Telegram's 429s, are counters that only go up: the
sender counts them as it settles each message (services.delivery_counters), so the nightly
purge of old rows cannot make them go down.
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
from debtbot.services.delivery_counters import DeliveryCounters
from debtbot.services.fleet import POSSIBLE_DUPLICATE, REPLY_QUEUED, REPLY_RETRIED

log = logging.getLogger(__name__)

PATH = "/metrics"


class DatabaseFigures(Collector):
    """Turns the latest snapshot into metric families; filled just before each scrape."""

    def __init__(self, counters: DeliveryCounters | None = None) -> None:
        self.snapshot: Snapshot | None = None
        self.counters = counters or DeliveryCounters()

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        up = GaugeMetricFamily("debtbot_database_up", "1 if the database answered this scrape")
        up.add_metric([], 0 if snapshot is None else 1)
        yield up
        if snapshot is None:
            return
        yield from self.delivery_counters()
        depth = GaugeMetricFamily(
            "debtbot_outbox_depth", "Messages waiting to be sent, by kind", labels=["kind"]
        )
        for purpose in OutboxPurpose:
            counts = {status: snapshot.outbox.get((purpose.value, status.value), 0)
                      for status in DeliveryStatus}
            depth.add_metric(
                [purpose.value], counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING]
            )
        yield depth
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
        yield from fleet_families(snapshot.fleet)


    def delivery_counters(self) -> Iterator[Metric]:
        """Counted as the sender settles each message: they only go up."""
        outcomes, rate_limited = self.counters.snapshot()
        sent = CounterMetricFamily(
            "debtbot_messages_sent", "Messages delivered to Telegram, by kind", labels=["kind"]
        )
        failed = CounterMetricFamily(
            "debtbot_messages_failed",
            "Messages given up on (failed after retries, or the user blocked the bot), by kind",
            labels=["kind", "reason"],
        )
        for purpose in OutboxPurpose:
            sent.add_metric([purpose.value], outcomes.get((purpose.value, "sent"), 0))
            for reason in ("failed", "blocked"):
                failed.add_metric([purpose.value, reason], outcomes.get((purpose.value, reason), 0))
        limited = CounterMetricFamily(
            "debtbot_telegram_rate_limited", "429 Too Many Requests answers from Telegram"
        )
        limited.add_metric([], rate_limited)
        yield from (sent, failed, limited)


def fleet_families(counters: dict[str, int]) -> Iterator[Metric]:
    """The fleet's delivery events (services.fleet), summed over every instance."""
    duplicates = CounterMetricFamily(
        "debtbot_messages_possible_duplicates",
        "Messages that timed out after reaching Telegram and were sent again (they may show "
        "twice), by kind",
        labels=["kind"],
    )
    retried = CounterMetricFamily(
        "debtbot_replies_retried",
        "Direct replies sent again after a 429 (flood) or a 5xx/timeout (transient)",
        labels=["reason"],
    )
    for purpose in OutboxPurpose:
        duplicates.add_metric([purpose.value],
                              counters.get(POSSIBLE_DUPLICATE + purpose.value, 0))
    for reason in ("flood", "transient"):
        retried.add_metric([reason], counters.get(REPLY_RETRIED + reason, 0))
    queued = CounterMetricFamily(
        "debtbot_replies_queued",
        "Direct replies that failed every try and went to the outbox (sent first from there)",
    )
    queued.add_metric([], counters.get(REPLY_QUEUED, 0))
    yield from (duplicates, retried, queued)


REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
FIGURES_KEY = web.AppKey("metrics_figures", DatabaseFigures)
REQUESTS_KEY = web.AppKey("metrics_requests", Counter)


def install(app: web.Application) -> None:
    registry = CollectorRegistry()
    figures = DatabaseFigures(app[DEPS_KEY].counters)
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
