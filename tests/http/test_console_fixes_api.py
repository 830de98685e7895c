"""The API side of issue #17: a notice to nobody is a 422 with the reason; previews are plain
text; `;`-separated lists are read; a past send time and templates whose languages disagree
are refused; every notice has a number and records its template version."""

from __future__ import annotations

from http_support import Api, debt, ingest, link_chat
from sqlalchemy import func, select

from debtbot.store.models import Broadcast, Chat, OutboxMessage

TEMPLATE = {
    "name": "call",
    "bodies": {"el": "Αγαπητέ/ή {name}, η οφειλή {reference}.", "en": "Dear {name}, debt {reference}."},
}


async def _outbox(api: Api) -> int:
    async with api.deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_notice_to_someone_without_a_chat_is_422_with_the_reason(api: Api) -> None:
    await ingest(api, debt("OOC-1"))
    before = await _outbox(api)
    status, body = await api.call("POST", "/api/notices", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE})
    assert status == 422, body
    assert body["error"]["code"] == "no_chat"
    assert "nobody has verified this person in the bot" in body["error"]["message"]
    status, preview = await api.call("POST", "/api/notices/preview", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE})
    assert status == 200 and preview["no_chat_reason"] == "never_linked"

    await link_chat(api, "OOC-1", chat_id=801, language="en")
    async with api.deps.sessions() as session, session.begin():
        (await session.get(Chat, 801)).active = False
    status, body = await api.call("POST", "/api/notices", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE})
    assert status == 422 and "inactive" in body["error"]["message"]
    assert await _outbox(api) == before + 1  # only link_chat's own reminder


async def test_previews_are_plain_text_and_notices_have_a_number(api: Api) -> None:
    await ingest(api, debt("OOC-1", name="Seán O'Brien & <Sons>"))
    await link_chat(api, "OOC-1", chat_id=802, language="en")
    status, body = await api.call("POST", "/api/notices/preview", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE})
    assert status == 200
    assert body["previews"][0]["text"] == "Dear Seán O'Brien & <Sons>, debt OOC-1."
    status, sent = await api.call("POST", "/api/notices", scope="notices", body={
        "recipient": {"reference": "OOC-1"}, "template": TEMPLATE})
    assert status == 201 and sent["notice_id"] == 1 and sent["queued"] == 1
    # The message itself is Telegram HTML, escaped once.
    async with api.deps.sessions() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "notice"))
    assert row.payload["text"] == "Dear Seán O&#x27;Brien &amp; &lt;Sons&gt;, debt OOC-1."


async def test_a_semicolon_separated_list_is_read(api: Api) -> None:
    await ingest(api, debt("OOC-1"))
    await link_chat(api, "OOC-1", chat_id=803, language="el")
    status, body = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": TEMPLATE, "csv": "\ufeffreference;name\nOOC-1;Άντρος\n"})
    assert status == 200, body
    assert body["errors"] == [] and body["rows"] == 1 and body["chats"] == 1


async def test_a_broadcast_at_a_past_time_is_refused(api: Api) -> None:
    status, body = await api.call("POST", "/api/broadcasts", scope="notices", body={
        "segment": {"kind": "all"}, "template": TEMPLATE | {"bodies": {"el": "Γεια."}},
        "send_at": "2025-01-01T09:00:00+02:00"})
    assert status == 422 and body["error"]["code"] == "past_send_at"
    async with api.deps.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0


async def test_a_template_whose_languages_disagree_is_refused(api: Api) -> None:
    await ingest(api, debt("OOC-1"))
    await link_chat(api, "OOC-1", chat_id=804, language="en")
    status, body = await api.call("POST", "/api/notices/preview", scope="notices", body={
        "recipient": {"reference": "OOC-1"},
        "template": {"name": "bad", "bodies": {"el": "Γεια {name}.", "en": "Hello {nme}."}}})
    assert status == 422 and body["error"]["code"] == "placeholders_differ"


async def test_a_list_waiting_for_approval_keeps_no_identity_number(api: Api) -> None:
    await ingest(api, debt("OOC-1", id_number="1234567"))
    await link_chat(api, "OOC-1", chat_id=805, language="en")
    status, body = await api.call("POST", "/api/notices/csv", scope="notices", body={
        "template": TEMPLATE, "send": True,
        "csv": "id_type,id_number,reference\n\nid_card,1234567,OOC-1\n"})
    assert status == 200 and body["status"] == "awaiting_approval", body
    async with api.deps.sessions() as session:
        kept = await session.scalar(select(Broadcast.source_csv))
    assert "1234567" not in kept and kept.startswith("id_type,id_hash,reference\n\n")
    status, approved = await api.call(
        "POST", f"/api/broadcasts/{body['broadcast_id']}/approve", scope="notices2")
    assert status == 200 and approved["expected"] == 1, approved
