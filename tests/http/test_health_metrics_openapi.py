"""Health, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

from http_support import Api, Clock, make_settings, serve
from sqlalchemy.ext.asyncio import async_sessionmaker

from debtbot.domain.messages import OutboxPurpose
from debtbot.services.deps import Deps
from debtbot.store.db import create_engine, transaction
from debtbot.store.models import OutboxMessage, VerificationAttempt
from debtbot.store.outbox import OutboxRepository


async def test_healthz_and_readyz(api: Api) -> None:
    assert await api.call("GET", "/healthz") == (200, {"status": "ok"})
    assert await api.call("GET", "/readyz") == (200, {"status": "ok"})


async def test_readyz_is_503_when_the_database_is_gone(clock: Clock, tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3")
    deps = Deps(make_settings(), async_sessionmaker(engine), clock)
    from debtbot.http.app import bound_port, build_http_app, start_http_server

    runner = await start_http_server(build_http_app(deps), host="127.0.0.1", port=0)
    try:
        import aiohttp

        async with aiohttp.ClientSession() as client:
            base = f"http://127.0.0.1:{bound_port(runner)}"
            async with client.get(base + "/readyz") as reply:
                assert reply.status == 503
                assert (await reply.json())["error"]["code"] == "not_ready"
            async with client.get(base + "/healthz") as reply:
                assert reply.status == 200
            async with client.get(base + "/metrics") as reply:
                assert reply.status == 200
                assert "debtbot_database_up 0.0" in await reply.text()
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_metrics_report_messages_outbox_depth_and_verification(api: Api) -> None:
    now = api.clock.now
    planned = [
        (OutboxPurpose.REMINDER, "sent"), (OutboxPurpose.REMINDER, "sent"),
        (OutboxPurpose.REMINDER, "failed"), (OutboxPurpose.BROADCAST, "blocked"),
        (OutboxPurpose.NOTICE, "pending"), (OutboxPurpose.NOTICE, "pending"),
        (OutboxPurpose.RECEIPT, "sending"),
    ]
    async with transaction(api.deps.sessions) as session:
        for n, (purpose, _) in enumerate(planned):
            await OutboxRepository(session).enqueue(
                dedupe_key=f"k{n}", chat_id=n + 1, purpose=purpose, payload={"text": "x"},
                not_before=now)
        table = OutboxMessage.__table__
        for n, (_, status) in enumerate(planned):
            await session.execute(
                table.update().where(table.c.dedupe_key == f"k{n}").values(status=status)
            )
        for _ in range(5):  # chat 42 is now locked out
            session.add(VerificationAttempt(chat_id=42, id_hash="h", method="dob",
                                            succeeded=False, at=now - timedelta(hours=1)))
        session.add(VerificationAttempt(chat_id=43, id_hash="g", method="contact",
                                        succeeded=True, at=now))
        for n in range(10):  # one identifier tried from ten chats: the identifier is locked
            session.add(VerificationAttempt(chat_id=100 + n, id_hash="z", method="dob",
                                            succeeded=False, at=now - timedelta(hours=2)))
        for _ in range(5):  # chat 44's lock ended six hours ago
            session.add(VerificationAttempt(chat_id=44, id_hash=None, method="dob",
                                            succeeded=False, at=now - timedelta(hours=30)))

    # Sent, failed and blocked are counted as the sender settles messages (not from rows,
    # which the nightly purge deletes): rows alone count nothing.
    _, before = await api.call("GET", "/metrics")
    assert 'debtbot_messages_sent_total{kind="reminder"} 0.0' in before.splitlines()
    api.deps.counters.settled(["reminder", "reminder"], "sent")
    api.deps.counters.settled(["reminder"], "failed")
    api.deps.counters.settled(["broadcast"], "blocked")
    api.deps.counters.flood_wait()

    status, text = await api.call("GET", "/metrics")

    assert status == 200
    lines = set(text.splitlines())
    assert "debtbot_telegram_rate_limited_total 1.0" in lines
    assert 'debtbot_messages_sent_total{kind="reminder"} 2.0' in lines
    assert 'debtbot_messages_failed_total{kind="reminder",reason="failed"} 1.0' in lines
    assert 'debtbot_messages_failed_total{kind="broadcast",reason="blocked"} 1.0' in lines
    assert 'debtbot_outbox_depth{kind="notice"} 2.0' in lines
    assert 'debtbot_outbox_depth{kind="receipt"} 1.0' in lines
    assert 'debtbot_verification_attempts_total{method="dob",result="failure"} 20.0' in lines
    assert 'debtbot_verification_attempts_total{method="contact",result="success"} 1.0' in lines
    assert 'debtbot_verification_lockouts{subject="chat"} 1.0' in lines
    assert 'debtbot_verification_lockouts{subject="identifier"} 1.0' in lines


async def test_metrics_count_requests_per_operation(api: Api) -> None:
    await api.call("GET", "/healthz")
    await api.call("POST", "/api/debts/upsert", body={"debts": []})
    _, text = await api.call("GET", "/metrics")
    assert 'debtbot_http_requests_total{operation="healthz",status="200"} 1.0' in text
    assert 'debtbot_http_requests_total{operation="upsertDebts",status="401"} 1.0' in text


async def test_two_apps_in_one_process_have_their_own_registries(api: Api) -> None:
    async for other in serve(api.deps, api.clock):
        await other.call("GET", "/healthz")
        status, _ = await other.call("GET", "/metrics")
        assert status == 200


async def test_the_openapi_document_describes_every_operation(api: Api) -> None:
    status, document = await api.call("GET", "/api/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    operations = {
        (path, method): entry
        for path, methods in document["paths"].items()
        for method, entry in methods.items()
    }
    for path in ("/api/debts/upsert", "/api/debts/cancel", "/api/payments", "/api/notices",
                 "/api/broadcasts", "/api/link-tokens"):
        entry = operations[(path, "post")]
        assert entry["security"] == [{"bearer": []}]
        assert {"401", "403", "400", "413", "422"} <= set(entry["responses"])
    assert ("/api/broadcasts/{broadcast_id}", "get") in operations
    schemas = document["components"]["schemas"]
    debt_schema = schemas["DebtIn"]
    assert debt_schema["additionalProperties"] is False
    assert "id_number" in debt_schema["required"]
    assert schemas["UpsertDebts"]["properties"]["debts"]["maxItems"] == 5000
    assert schemas["ErrorReply"]["required"] == ["error"]


async def test_metrics_count_outstanding_debts_of_an_unknown_authority(api: Api) -> None:
    from decimal import Decimal

    from debtbot.store.models import DebtRow

    async with transaction(api.deps.sessions) as session:
        for n, (authority, status) in enumerate([
            ("Cyprus Police", "outstanding"), ("Αστυνομία Κύπρου", "outstanding"),
            ("Municipality of Atlantis", "outstanding"), ("Municipality of Atlantis", "paid"),
            ("Δήμος Ατλαντίδας", "outstanding"),
        ]):
            session.add(DebtRow(source="t", reference=f"R{n}", kind="tax", authority=authority,
                                amount=Decimal("1"), status=status))
    _, text = await api.call("GET", "/metrics")
    assert "debtbot_debts_unknown_authority 2.0" in text.splitlines()
