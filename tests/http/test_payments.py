"""Payment callbacks: signed, fresh, once; a payment settles the debt, stops its reminders and
sends the citizen a receipt in their language. Refusals write nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from http_support import Api, debt, ingest, link_chat
from sqlalchemy import func, select

from debtbot.store.db import transaction
from debtbot.store.models import AuditEntry, Chat, ChatLink, DebtRow, OutboxMessage, Payment


def payment(reference: str = "OOC-1", *, payment_id: str = "jcc-0001",
            amount: str = "85.00", **extra: Any) -> dict[str, Any]:
    return {"payment_id": payment_id, "reference": reference, "amount": amount, **extra}


async def pay(api: Api, body: dict[str, Any], **signing: Any) -> tuple[int, Any]:
    raw, headers = api.signed(body, **signing)
    return await api.call("POST", "/api/payments", scope="payments", raw=raw, headers=headers)


async def outbox_rows(api: Api) -> list[OutboxMessage]:
    async with api.deps.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def payments_count(api: Api) -> int:
    async with api.deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


async def debt_status(api: Api, reference: str = "OOC-1") -> str:
    async with api.deps.sessions() as session:
        return str(await session.scalar(
            select(DebtRow.status).where(DebtRow.reference == reference)
        ))


async def test_a_full_payment_settles_the_debt_and_sends_a_greek_receipt(api: Api) -> None:
    await ingest(api, debt())
    debt_id = await link_chat(api, "OOC-1", chat_id=501, language="el")

    status, body = await pay(api, payment())

    assert status == 201, body
    assert body["status"] == "paid" and body["debt_id"] == debt_id
    assert body["amount"] == "85.00" and body["receipts"] == 1
    assert await debt_status(api) == "paid"
    rows = await outbox_rows(api)
    reminder = next(row for row in rows if row.purpose == "reminder")
    receipt = next(row for row in rows if row.purpose == "receipt")
    assert reminder.status == "cancelled"
    assert receipt.chat_id == 501 and receipt.status == "pending"
    text = receipt.payload["text"]
    assert "OOC-1" in text and "85,00" in text and "€" in text
    assert "Εξώδικο" in text or "εξώδικο" in text.lower()
    async with api.deps.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.record"))
    assert entry is not None and entry.actor.startswith("token:") and entry.count == 1


async def test_the_receipt_speaks_each_chats_language(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=601, language="tr")
    async with transaction(api.deps.sessions) as session:
        person_id = await session.scalar(select(DebtRow.person_id))
        session.add(Chat(id=602, language="en"))
        await session.flush()
        session.add(ChatLink(chat_id=602, person_id=person_id, verified_by="dob"))

    status, body = await pay(api, payment())

    assert status == 201 and body["receipts"] == 2
    texts = {row.chat_id: row.payload["text"] for row in await outbox_rows(api)
             if row.purpose == "receipt"}
    assert "Payment received" in texts[602]
    assert "Payment received" not in texts[601] and "OOC-1" in texts[601]


async def test_a_discreet_chat_gets_a_receipt_without_amount_or_kind(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=701, language="en", discreet=True)
    status, _ = await pay(api, payment())
    assert status == 201
    receipt = next(row for row in await outbox_rows(api) if row.purpose == "receipt")
    assert "85" not in receipt.payload["text"] and "fine" not in receipt.payload["text"].lower()


async def test_a_replayed_callback_is_refused_with_409_and_changes_nothing(api: Api) -> None:
    await ingest(api, debt(), debt("OOC-2"))
    raw, headers = api.signed(payment())
    first = await api.call("POST", "/api/payments", scope="payments", raw=raw, headers=headers)
    again = await api.call("POST", "/api/payments", scope="payments", raw=raw, headers=headers)
    assert first[0] == 201
    assert again[0] == 409 and again[1]["error"]["code"] == "replayed"
    # The same provider id for another debt is a replay too.
    status, body = await pay(api, payment("OOC-2"))
    assert status == 409 and body["error"]["code"] == "replayed"
    assert await payments_count(api) == 1
    assert await debt_status(api, "OOC-2") == "outstanding"


async def test_a_bad_signature_is_refused(api: Api) -> None:
    await ingest(api, debt())
    raw, headers = api.signed(payment(), secret="not-the-secret")
    status, body = await api.call("POST", "/api/payments", scope="payments", raw=raw,
                                  headers=headers)
    assert status == 401 and body["error"]["code"] == "bad_signature"
    # A body changed after signing.
    raw, headers = api.signed(payment())
    tampered = raw.replace(b"85.00", b"95.00")
    status, body = await api.call("POST", "/api/payments", scope="payments", raw=tampered,
                                  headers=headers)
    assert status == 401 and body["error"]["code"] == "bad_signature"
    status, body = await api.call("POST", "/api/payments", scope="payments", raw=raw)
    assert status == 401 and body["error"]["code"] == "bad_signature"
    assert await payments_count(api) == 0 and await debt_status(api) == "outstanding"


async def test_a_stale_or_future_timestamp_is_refused(api: Api) -> None:
    await ingest(api, debt())
    for skew in (timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-20000)):
        status, body = await pay(api, payment(), at=api.clock.now + skew)
        assert status == 401 and body["error"]["code"] == "stale_timestamp", skew
    status, body = await pay(api, payment(), at=api.clock.now - timedelta(minutes=4))
    assert status == 201, body


async def test_an_absurd_timestamp_header_is_a_401_not_a_crash(api: Api) -> None:
    raw, headers = api.signed(payment())
    for timestamp in ("999999999999", "-5", "1e9", "", "１２３"):
        sent = {**headers, "X-Payment-Timestamp": timestamp}
        status, body = await api.call("POST", "/api/payments", scope="payments", raw=raw,
                                      headers=sent)
        assert status == 401, (timestamp, body)


async def test_part_payment_of_an_out_of_court_fine_is_refused(api: Api) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=801, language="en")
    status, body = await pay(api, payment(amount="50.00"))
    assert status == 422 and body["error"]["code"] == "partial_payment_refused"
    assert "85.00" in body["error"]["message"]
    assert await payments_count(api) == 0 and await debt_status(api) == "outstanding"
    assert [row.purpose for row in await outbox_rows(api)] == ["reminder"]
    assert (await outbox_rows(api))[0].status == "pending"


async def test_part_payment_of_a_tax_debt_is_recorded_and_the_debt_stays_open(api: Api) -> None:
    await ingest(api, debt("TAX-1", kind="tax", source="tax", amount="1000.00",
                           served_on=None, due_on="2026-04-30"))
    await link_chat(api, "TAX-1", chat_id=901, language="en")
    status, body = await pay(api, payment("TAX-1", amount="400.00"))
    assert status == 201 and body["status"] == "partially_paid", body
    assert await debt_status(api, "TAX-1") == "outstanding"
    receipt = next(row for row in await outbox_rows(api) if row.purpose == "receipt")
    assert "600.00" in receipt.payload["text"] and "still due" in receipt.payload["text"]


async def test_after_45_days_the_fine_cannot_be_paid_out_of_court(api: Api) -> None:
    await ingest(api, debt(served_on="2026-01-01"))
    status, body = await pay(api, payment())
    assert status == 422 and body["error"]["code"] == "not_payable"
    assert await payments_count(api) == 0


async def test_a_fine_whose_day_45_is_a_sunday_is_paid_on_monday_art_31(api: Api) -> None:
    # Served 7 May 2026: day 45 is Sunday 21 June. Monday 22 June is still in time
    # (Cap. 1 art. 31(β)), with the 50 % surcharge; Tuesday 23 June is not.
    api.clock.now = datetime(2026, 6, 22, 20, 0, tzinfo=UTC)  # 23:00 in Nicosia
    await ingest(api, debt("OOC-S", served_on="2026-05-07", amount="100.00"),
                 debt("OOC-T", served_on="2026-05-07", amount="100.00"))
    status, body = await pay(api, payment("OOC-S", amount="150.00"))
    assert status == 201 and body["amount_due"] == "150.00", body
    api.clock.now = datetime(2026, 6, 22, 21, 0, tzinfo=UTC)  # 00:00 on Tuesday
    status, body = await pay(api, payment("OOC-T", amount="150.00", payment_id="jcc-0003"))
    assert status == 422 and body["error"]["code"] == "not_payable", body


async def test_a_fine_whose_day_30_is_a_holiday_is_paid_without_surcharge_next_day(
    api: Api,
) -> None:
    # Served 14 March 2026: day 30 is Easter Monday; on Easter Tuesday the amount on the
    # notice still settles it.
    api.clock.now = datetime(2026, 4, 14, 9, 0, tzinfo=UTC)
    await ingest(api, debt("OOC-E", served_on="2026-03-14", amount="100.00"))
    status, body = await pay(api, payment("OOC-E", amount="100.00"))
    assert status == 201 and body["amount_due"] == "100.00", body
    assert body["status"] == "paid"


async def test_a_payment_for_a_surcharged_fine_must_cover_the_surcharge(api: Api) -> None:
    # Served 2026-02-01: on 2026-03-10 it is past 30 days, so 50 % more is due.
    await ingest(api, debt(served_on="2026-02-01", amount="100.00"))
    status, body = await pay(api, payment(amount="100.00"))
    assert status == 422 and body["error"]["code"] == "partial_payment_refused", body
    status, body = await pay(api, payment(amount="150.00", payment_id="jcc-0002"))
    assert status == 201 and body["amount_due"] == "150.00", body


async def test_unknown_and_closed_debts(api: Api) -> None:
    status, body = await pay(api, payment("NOPE"))
    assert status == 404 and body["error"]["code"] == "debt_not_found"
    await ingest(api, debt(status="cancelled"))
    status, body = await pay(api, payment())
    assert status == 409 and body["error"]["code"] == "debt_not_open"


async def test_the_payments_scope_is_required(api: Api) -> None:
    raw, headers = api.signed(payment())
    status, body = await api.call("POST", "/api/payments", scope="ingest", raw=raw,
                                  headers=headers)
    assert status == 403


async def test_without_a_configured_secret_the_endpoint_answers_503(api: Api) -> None:
    from http_support import make_settings

    from debtbot.services.deps import Deps

    unconfigured = Deps(make_settings(payment_webhook_secret=""), api.deps.sessions, api.clock)
    from http_support import serve

    async for other in serve(unconfigured, api.clock):
        status, body = await pay(other, payment())
        assert status == 503 and body["error"]["code"] == "not_configured"


async def test_the_same_callback_twice_at_once_is_recorded_once(api: Api) -> None:
    import asyncio

    await ingest(api, debt())
    raw, headers = api.signed(payment())
    results = await asyncio.gather(*(
        api.call("POST", "/api/payments", scope="payments", raw=raw, headers=headers)
        for _ in range(4)
    ))
    assert sorted(status for status, _ in results) == [201, 409, 409, 409]
    assert await payments_count(api) == 1


async def test_a_reference_two_registries_share_needs_the_source(api: Api) -> None:
    await ingest(api, debt("SHARED-1"), debt("SHARED-1", source="rtd", kind="admin_fine"))
    status, body = await pay(api, payment("SHARED-1"))
    assert status == 422 and body["error"]["code"] == "ambiguous_reference"
    status, body = await pay(api, payment("SHARED-1", source="rtd"))
    assert status == 201, body
    async with api.deps.sessions() as session:
        statuses = dict((await session.execute(
            select(DebtRow.source, DebtRow.status).where(DebtRow.reference == "SHARED-1")
        )).all())
    assert statuses == {"rtd": "paid", "police": "outstanding"}


async def test_part_payments_of_a_tax_debt_add_up_and_settle_it(api: Api) -> None:
    # Due 2026-03-31, so on 2026-03-10 the €6,300 is due without surcharge.
    await ingest(api, debt("TAX-2", kind="tax", source="tax", amount="6300.00",
                           served_on=None, due_on="2026-03-31"))
    await link_chat(api, "TAX-2", chat_id=902, language="en")
    first = await pay(api, payment("TAX-2", amount="100.00", payment_id="p-1"))
    second = await pay(api, payment("TAX-2", amount="6200.00", payment_id="p-2"))
    third = await pay(api, payment("TAX-2", amount="100.00", payment_id="p-3"))

    assert first[0] == 201 and first[1]["status"] == "partially_paid"
    assert first[1]["remaining"] == "6200.00" and first[1]["paid_total"] == "100.00"
    assert second[0] == 201 and second[1]["status"] == "paid"
    assert second[1]["paid_total"] == "6300.00" and second[1]["remaining"] == "0.00"
    # Nothing is due any more: refused, nothing written.
    assert third[0] == 409 and third[1]["error"]["code"] == "debt_not_open"
    assert await payments_count(api) == 2
    assert await debt_status(api, "TAX-2") == "paid"
    rows = await outbox_rows(api)
    assert all(row.status == "cancelled" for row in rows if row.purpose == "reminder")
    receipts = [row.payload["text"] for row in rows if row.purpose == "receipt"]
    assert "€6,200.00 is still due, by 31 March 2026." in receipts[0]
    assert "Paid so far for this debt: €6,300.00." in receipts[1]
    assert "This debt is settled" in receipts[1]


async def test_an_overpayment_is_recorded_flagged_for_refund_and_the_citizen_told(
    api: Api,
) -> None:
    await ingest(api, debt())
    await link_chat(api, "OOC-1", chat_id=903, language="el")
    status, body = await pay(api, payment(amount="1000.00"))
    assert status == 201 and body["status"] == "overpaid", body
    assert body["refund_due"] == "915.00" and body["remaining"] == "0.00"
    assert await debt_status(api) == "paid"
    async with api.deps.sessions() as session:
        recorded = await session.scalar(select(Payment))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.record"))
    assert str(recorded.refund_due) == "915.00"
    assert entry.details["refund_due"] == "915.00"
    receipt = next(row for row in await outbox_rows(api) if row.purpose == "receipt")
    assert "Πληρώσατε 915,00\xa0€ περισσότερα από όσα οφείλατε." in receipt.payload["text"]
