"""The aiohttp application: the staff/ingest/payment API, health, metrics, OpenAPI, and, in
webhook mode, Telegram's updates at a secret path.

Every answer that is not a success is JSON (`{"error": {"code", "message", ...}}`) with a
4xx status; a database that is not answering is a 503 with Retry-After; an unexpected failure is
a 500 with an id to quote, logged without the request body (which may hold identity numbers).
"""

from __future__ import annotations

import hashlib
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from debtbot.http import (
    audit,
    broadcasts,
    console,
    debts,
    health,
    link_tokens,
    metrics,
    notices,
    openapi,
    payments,
    signin,
)
from debtbot.http.auth import require_scope
from debtbot.http.base import (
    DEPS_KEY,
    JSON_TYPE,
    ApiError,
    Call,
    Operation,
    error_response,
    json_response,
    parse_model,
    parse_query,
)
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.health import OUTAGE, is_database_outage

log = logging.getLogger(__name__)

# While the database is away, clients are asked to come back after this long.
RETRY_AFTER_SECONDS = 30

AREAS = (debts, payments, notices, broadcasts, audit, link_tokens, health)
ROUTE_NAME_KEY = "operation_id"

_REASONS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def all_operations() -> list[Operation]:
    return [operation for area in AREAS for operation in area.OPERATIONS]


def webhook_path(settings: Settings) -> str:
    """Telegram's updates arrive here: a path nobody can guess without the secret."""
    digest = hashlib.sha256(f"debtbot-webhook:{settings.webhook_secret}".encode()).hexdigest()
    return f"/telegram/{digest[:32]}"


@web.middleware
async def errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(
            exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if request.path == console.PREFIX or request.path.startswith(console.PREFIX + "/"):
            return console.error_page(request, exc.status)
        headers = {name: value for name, value in exc.headers.items() if name in ("Allow",)}
        if exc.status == 413:
            message = "The body is larger than this server accepts."
        elif exc.status == 405:
            message = f"{request.method} is not allowed here."
        else:
            message = exc.reason
        return error_response(
            exc.status, _REASONS.get(exc.status, "error"), message, headers=headers
        )
    except Exception as exc:
        if is_database_outage(exc):
            OUTAGE.failed(exc)  # one line per outage, not a traceback per request
            return error_response(
                503, "database_unavailable",
                "The database is not answering; try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        error_id = uuid.uuid4().hex[:12]
        # The type and the frames only: messages of database errors quote the parameters.
        log.error(
            "unexpected %s (error id %s) on %s %s\n%s",
            type(exc).__name__,
            error_id,
            request.method,
            request.match_info.route.resource.canonical if request.match_info.route.resource
            else "?",
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return error_response(
            500, "internal_error", "Something went wrong on our side.", error_id=error_id
        )


def _endpoint(operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        deps = request.app[DEPS_KEY]
        token = None
        if operation.scope is not None:
            token = await require_scope(
                deps, request.headers.get("Authorization"), operation.scope
            )
        params: dict[str, int] = {}
        for name in operation.path_params:
            value = int(request.match_info[name])
            if not 1 <= value <= 2**31 - 1:
                raise ApiError(404, "not_found", "No such resource.")
            params[name] = value
        raw = b""
        body: Any = None
        if operation.request is not None:
            if request.content_type != JSON_TYPE:
                raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
            raw = await request.read()
            if operation.parse_body:
                body = parse_model(operation.request, raw)
        query = None
        if operation.query is not None:
            query = parse_query(operation.query, list(request.query.items()))
        call = Call(request=request, deps=deps, token=token, body=body, raw=raw, params=params,
                    query=query)
        reply = await operation.handler(call)
        return json_response(operation.status, reply)

    return endpoint


def build_http_app(
    deps: Deps, *, telegram_application: Any | None = None
) -> web.Application:
    """The HTTP server's application; the Telegram webhook only when a URL is configured."""
    settings = deps.settings
    app = web.Application(
        client_max_size=settings.http_max_body_bytes,
        middlewares=[metrics.count_requests, errors_as_json],
    )
    app[DEPS_KEY] = deps
    metrics.install(app)
    operations = all_operations()
    for operation in operations:
        app.router.add_route(
            operation.method, operation.route, _endpoint(operation), name=operation.operation_id
        )
    openapi.install(app, operations)
    console.install(app)
    signin.install(app, settings)  # pages for people's browsers, not part of the API
    if telegram_application is not None and settings.webhook_url:
        from debtbot.http import webhook

        app.add_routes(
            webhook.telegram_webhook_routes(
                telegram_application, path=webhook_path(settings), secret=settings.webhook_secret
            )
        )
    return app


async def start_http_server(app: web.Application, *, host: str, port: int) -> web.AppRunner:
    """Serve `app` until `await runner.cleanup()`; port 0 picks a free one."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the server is not listening")
