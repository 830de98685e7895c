"""The audit log (scope `read`) and CSV notice lists (scope `notices`) through the API."""

from __future__ import annotations

from datetime import datetime, timedelta

from http_support import Api, debt, ingest, link_chat
from sqlalchemy import select

from debtbot.store.models import AuditEntry, Broadcast, OutboxMessage

TEMPLATE = {
    "name": "csv-call",
    "bodies": {
        "el": "Αγαπητέ/ή {name}, η οφειλή {reference} είναι {amount}.",
        "en": "Dear {name}, debt {reference} is {amount}.",
    },
}


async def notices_queued(api: Api) -> list[OutboxMessage]:
    async with api.deps.sessions() as session:
        return list(await session.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "notice")
        ))


async def broadcasts_made(api: Api) -> list[Broadcast]:
    async with api.deps.sessions() as session:
        return list(await session.scalars(select(Broadcast)))


async def two_linked_debts(api: Api) -> None:
    await ingest(api, debt("OOC-1"), debt("OOC-2", id_number="7654321", name="Maria Ioannou"))
    await link_chat(api, "OOC-1", chat_id=701, language="el")
    await link_chat(api, "OOC-2", chat_id=702, language="en")


# --- GET /api/audit ----------------------------------------------------------------------


async def test_the_audit_log_needs_the_read_scope(api: Api) -> None:
    status, body = await api.call("GET", "/api/audit")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = await api.call("GET", "/api/audit", scope="notices")
    assert status == 403 and body["error"]["code"] == "insufficient_scope"


async def test_the_audit_log_lists_actions_newest_first_with_filters(api: Api) -> None:
    await two_linked_debts(api)
    for reference in ("OOC-1", "OOC-2"):
        status, _ = await api.call("POST", "/api/notices", scope="notices", body={
            "recipient": {"reference": reference}, "template": TEMPLATE,
        })
        assert status == 201
    status, entries = await api.call("GET", "/api/audit?action=notice.send", scope="read")
    assert status == 200, entries
    assert len(entries) == 2
    assert all(entry["action"] == "notice.send" for entry in entries)
    assert set(entries[0]) == {"at", "actor", "action", "subject", "count", "details"}
    assert entries[0]["actor"].startswith("token:") and entries[0]["count"] == 1
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert "1234567" not in str(entries) and "7654321" not in str(entries)

    status, prefixed = await api.call("GET", "/api/audit?action=notice.", scope="read")
    assert status == 200 and len(prefixed) == 2
    status, limited = await api.call("GET", "/api/audit?action=notice.&limit=1", scope="read")
    assert status == 200 and len(limited) == 1
    actor = entries[0]["actor"]
    status, mine = await api.call("GET", f"/api/audit?actor={actor}", scope="read")
    assert status == 200 and mine and all(e["actor"] == actor for e in mine)
    status, nobody = await api.call("GET", "/api/audit?actor=token:99999", scope="read")
    assert status == 200 and nobody == []
    # Entries are stamped by the database's clock: filter relative to what was recorded.
    # (A second earlier: SQLite's CURRENT_TIMESTAMP text has no fraction, so an entry stamped
    # at exactly that second compares below a bound "…:55.000000".)
    newest = (datetime.fromisoformat(entries[0]["at"]) - timedelta(seconds=1)).isoformat()
    status, since_newest = await api.call(
        "GET", "/api/audit?action=notice.send&since=" + newest.replace("+", "%2B"), scope="read"
    )
    assert status == 200 and since_newest and since_newest[0] == entries[0]
    status, old = await api.call("GET", "/api/audit?since=2000-01-01", scope="read")
    assert status == 200 and len([e for e in old if e["action"] == "notice.send"]) == 2
    status, future = await api.call("GET", "/api/audit?since=2099-12-31", scope="read")
    assert status == 200 and future == []
    status, future = await api.call(
        "GET", "/api/audit?since=2099-12-31T00:00:00Z", scope="read"
    )
    assert status == 200 and future == []


async def test_bad_audit_queries_are_422_json(api: Api) -> None:
    for query in ("since=yesterday", "since=2026-02-30", "since=2026-03-10T10:00:00",
                  "limit=0", "limit=1001", "limit=ten", "limit=5.0", "action=",
                  "colour=red", "limit=1&limit=2"):
        status, body = await api.call("GET", f"/api/audit?{query}", scope="read")
        assert status == 422, (query, body)
        assert body["error"]["code"] == "invalid_query"


# --- POST /api/notices/csv ---------------------------------------------------------------


async def test_csv_lists_need_the_notices_scope(api: Api) -> None:
    body = {"template": TEMPLATE, "csv": "reference\nOOC-1\n"}
    status, _ = await api.call("POST", "/api/notices/csv", body=body)
    assert status == 401
    status, answer = await api.call("POST", "/api/notices/csv", scope="read", body=body)
    assert status == 403 and answer["error"]["code"] == "insufficient_scope"


async def test_a_checked_csv_writes_nothing(api: Api) -> None:
    await two_linked_debts(api)
    status, body = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": TEMPLATE, "csv": "reference,name\nOOC-1,Andreas\nOOC-2,\n",
    })
    assert status == 200, body
    assert body["sent"] is False and body["broadcast_id"] is None and body["queued"] == 0
    assert body["rows"] == 2 and body["ok_rows"] == 2 and body["chats"] == 2
    assert body["errors"] == []
    assert await notices_queued(api) == [] and await broadcasts_made(api) == []


async def test_bad_rows_come_back_with_line_and_column_without_identity_numbers(
    api: Api,
) -> None:
    await two_linked_debts(api)
    csv_text = (
        "id_type,id_number,reference,amount\n"
        ",,OOC-1,\n"
        "id_card,99,,10\n"
        ",,NOPE,\n"
        ",,OOC-2,lots\n"
    )
    status, body = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": TEMPLATE, "csv": csv_text,
    })
    assert status == 200, body
    assert body["rows"] == 4 and body["ok_rows"] == 1
    by_line = {error["line"]: error for error in body["errors"]}
    assert set(by_line) == {3, 4, 5}
    assert by_line[3]["column"] == "id_number"
    assert by_line[4]["column"] == "reference"
    assert by_line[5]["column"] == "amount"
    assert "99" not in by_line[3]["problem"]
    assert await notices_queued(api) == []


async def test_send_is_refused_when_any_row_is_bad_and_nothing_is_queued(api: Api) -> None:
    await two_linked_debts(api)
    status, body = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": TEMPLATE, "csv": "reference\nOOC-1\nNOPE\n", "send": True,
    })
    assert status == 422, body
    assert body["error"]["code"] == "csv_problems"
    assert body["error"]["details"] == [
        {"loc": ["csv", 3, "reference"], "msg": "no debt with that reference", "type": "csv_row"}
    ]
    assert await notices_queued(api) == [] and await broadcasts_made(api) == []
    async with api.deps.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "notice_csv.send")
        )
    assert entry is None


async def test_a_valid_csv_is_queued_as_a_broadcast_and_audited(api: Api) -> None:
    await two_linked_debts(api)
    status, body = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": TEMPLATE, "csv": "reference\nOOC-1\nOOC-2\n", "send": True,
    })
    assert status == 200, body
    assert body["sent"] is False and body["status"] == "awaiting_approval"
    assert body["errors"] == [] and body["queued"] == 0
    [broadcast] = await broadcasts_made(api)
    assert body["broadcast_id"] == broadcast.id and broadcast.kind == "csv"
    assert await notices_queued(api) == []
    # One token cannot send a list on its own word: a second one approves it.
    status, refused = await api.call(
        "POST", f"/api/broadcasts/{broadcast.id}/approve", scope="notices"
    )
    assert status == 403 and refused["error"]["code"] == "same_supervisor"
    status, approved = await api.call(
        "POST", f"/api/broadcasts/{broadcast.id}/approve", scope="notices2"
    )
    assert status == 200 and approved["status"] == "sending", approved
    rows = {row.chat_id: row for row in await notices_queued(api)}
    assert set(rows) == {701, 702}
    assert "Αγαπητέ" in rows[701].payload["text"] and "Andreas Georgiou" in rows[701].payload["text"]
    assert "Dear Maria Ioannou" in rows[702].payload["text"]
    status, entries = await api.call("GET", "/api/audit?action=notice_csv.approve", scope="read")
    assert status == 200 and len(entries) == 1
    assert entries[0]["subject"] == f"broadcast:{broadcast.id}" and entries[0]["count"] == 2
    status, state = await api.call("GET", f"/api/broadcasts/{broadcast.id}", scope="read")
    assert status == 200, state


async def test_bad_csv_bodies_are_4xx(api: Api) -> None:
    await two_linked_debts(api)
    cases = [
        {"template": TEMPLATE, "csv": ""},
        {"template": TEMPLATE, "csv": "name\nAndreas\n"},  # no recipient column
        {"template": TEMPLATE, "csv": "chat_id\n99999999999999999999999\n", "send": True},
        {"template": TEMPLATE, "csv": "reference\nOOC-1\n", "send": "yes"},
        {"template": TEMPLATE, "csv": "reference\nOOC-1\n", "extra": 1},
        {"template": TEMPLATE, "csv": "reference\n\"OOC-1\n"},
        {"template": TEMPLATE, "csv": "reference\n", "send": True},  # no rows
    ]
    for body in cases:
        status, answer = await api.call("POST", "/api/notices/csv", scope="notices", body=body)
        assert status == 422, (body, answer)
        assert "error" in answer
    status, answer = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": "no-such-template", "csv": "reference\nOOC-1\n",
    })
    assert status == 404, answer
    assert await notices_queued(api) == [] and await broadcasts_made(api) == []
