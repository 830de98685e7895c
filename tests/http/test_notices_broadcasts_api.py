"""Notices and broadcasts through the API: tokens act as supervisors; approval needs a
second token; progress is readable with the `read` scope."""

from __future__ import annotations

from http_support import Api, debt, ingest, link_chat
from sqlalchemy import select

from debtbot.store.models import AuditEntry, OutboxMessage

TEMPLATE = {
    "name": "reminder-call",
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


async def test_a_notice_reaches_the_persons_chat_in_its_language(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=501, language="el")
    status, body = await api.call("POST", "/api/notices", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE,
    })
    assert status == 201, body
    assert body["chats"] == 1 and body["queued"] == 1
    assert body["missing_translations"] == []  # only the recipient chats' languages count
    [row] = await notices_queued(api)
    assert row.chat_id == 501
    assert "Andreas Georgiou" in row.payload["text"] and "85,00" in row.payload["text"]
    assert "Αγαπητέ" in row.payload["text"]
    async with api.deps.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "notice.send"))
    assert entry is not None and entry.actor.startswith("token:")


async def test_a_preview_queues_nothing(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=502, language="en")
    status, body = await api.call("POST", "/api/notices/preview", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE,
    })
    assert status == 200, body
    assert body["queued"] == 0 and body["previews"][0]["language"] == "en"
    assert await notices_queued(api) == []


async def test_notice_refusals_are_4xx_and_write_nothing(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=503, language="en")
    cases = [
        ({"recipient": {"reference": "OOC-1"}, "template": "no-such-template"}, 404),
        ({"recipient": {"id_type": "id_card", "id_number": "1234567"}, "template": TEMPLATE},
         422),  # {reference} and {amount} have no value without a debt
        ({"recipient": {}, "template": TEMPLATE}, 422),
        ({"recipient": {"reference": "NOPE"}, "template": TEMPLATE}, 404),
    ]
    for body, expected in cases:
        status, answer = await api.call("POST", "/api/notices", scope="notices", body=body)
        assert status == expected, (body, answer)
        assert "error" in answer
    assert await notices_queued(api) == []


async def test_a_broadcast_needs_a_second_token_to_approve(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=601, language="el")
    status, created = await api.call("POST", "/api/broadcasts", scope="notices", body={
        "segment": {"kind": "debt_kind", "debt_kind": "out_of_court_fine"},
        "template": {"name": "all-fines", "bodies": {"el": "Ελέγξτε τα πρόστιμά σας.",
                                                     "en": "Check your fines.",
                                                     "tr": "Cezalarınızı kontrol edin."}},
    })
    assert status == 201, created
    assert created["status"] == "awaiting_approval"
    broadcast = f"/api/broadcasts/{created['id']}"

    status, body = await api.call("POST", broadcast + "/approve", scope="notices")
    assert status == 403 and body["error"]["code"] == "same_supervisor"

    status, body = await api.call("POST", broadcast + "/approve", scope="notices2")
    assert status == 200, body
    assert body["status"] in ("approved", "sending") and body["approved_by"] != body["created_by"]

    status, body = await api.call("POST", broadcast + "/approve", scope="notices2")
    assert status == 409

    status, state = await api.call("GET", broadcast, scope="read")
    assert status == 200 and state["progress"]["total"] == 1

    status, progress = await api.call("POST", broadcast + "/cancel", scope="notices")
    assert status == 200 and progress["status"] == "cancelled"


async def test_reading_needs_the_read_scope_and_an_existing_broadcast(api: Api) -> None:
    status, _ = await api.call("GET", "/api/broadcasts/1", scope="notices")
    assert status == 403
    status, body = await api.call("GET", "/api/broadcasts/12345", scope="read")
    assert status == 404 and "error" in body


async def test_a_bad_segment_is_refused(api: Api) -> None:
    status, body = await api.call("POST", "/api/broadcasts", scope="notices", body={
        "segment": {"kind": "debt_kind"}, "template": TEMPLATE,
    })
    assert status == 422, body
