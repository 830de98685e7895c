"""The registries' batch endpoints: upsert and cancel, all or nothing."""

from __future__ import annotations

from http_support import Api, debt, ingest, link_chat
from sqlalchemy import select

from debtbot.store.models import AuditEntry, DebtRow, OutboxMessage, Person


async def debts(api: Api) -> dict[str, DebtRow]:
    async with api.deps.sessions() as session:
        return {row.reference: row for row in await session.scalars(select(DebtRow))}


async def test_a_batch_is_inserted_then_updated_by_source_and_reference(api: Api) -> None:
    batch = [debt(f"OOC-{n}") for n in range(3)]
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": batch})
    assert status == 200, body
    assert body == {"received": 3, "inserted": 3, "updated": 0, "unchanged": 0, "closed": 0}

    batch[1]["amount"] = "170.00"
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": batch})
    assert body == {"received": 3, "inserted": 0, "updated": 1, "unchanged": 2, "closed": 0}
    stored = await debts(api)
    assert str(stored["OOC-1"].amount) == "170.00"


async def test_identity_numbers_are_stored_only_hashed(api: Api) -> None:
    await api.call("POST", "/api/debts/upsert", scope="ingest",
                   body={"debts": [debt(id_number="7654321")]})
    async with api.deps.sessions() as session:
        person = await session.scalar(select(Person))
    assert person is not None and "7654321" not in repr(vars(person))


async def test_one_invalid_debt_refuses_the_whole_batch(api: Api) -> None:
    batch = [debt("OK-1"), debt("BAD-1", id_number="12"), debt("BAD-2", served_on="2031-01-01")]
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": batch})
    assert status == 422 and body["error"]["code"] == "invalid_debts"
    locations = [detail["loc"] for detail in body["error"]["details"]]
    assert ["debts", 1, "id_number"] in locations and ["debts", 2, "served_on"] in locations
    assert await debts(api) == {}


async def test_a_reference_twice_in_one_batch_is_refused(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": [debt(), debt()]})
    assert status == 422 and body["error"]["details"][0]["loc"] == ["debts", 1, "reference"]


async def test_batches_have_a_size_limit(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": []})
    assert status == 422
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": [debt(f"R{n}") for n in range(5001)]})
    assert status == 422 and body["error"]["details"][0]["type"] == "too_long"


async def test_cancel_closes_open_debts_and_is_audited(api: Api) -> None:
    await api.call("POST", "/api/debts/upsert", scope="ingest",
                   body={"debts": [debt("A"), debt("B")]})
    status, body = await api.call(
        "POST", "/api/debts/cancel", scope="ingest",
        body={"debts": [{"source": "police", "reference": "A"},
                        {"source": "police", "reference": "NOPE"}], "status": "withdrawn"},
    )
    assert status == 200 and body == {"requested": 2, "cancelled": 1}
    stored = await debts(api)
    assert stored["A"].status == "withdrawn" and stored["B"].status == "outstanding"
    async with api.deps.sessions() as session:
        actions = {(e.action, e.actor) for e in await session.scalars(select(AuditEntry))}
    ingest_token = next(a for a in actions if a[0] == "debts.cancel")[1]
    assert ingest_token.startswith("token:")
    assert ("debts.upsert", ingest_token) in actions


async def test_the_time_of_service_and_the_tax_measures_dates_are_optional_fields(
    api: Api,
) -> None:
    batch = [
        debt("OOC-T", served_on="2026-03-01", served_at="2026-03-01T18:00:00+02:00"),
        debt("TAX-M", kind="tax", source="tax", served_on=None, due_on="2025-12-31",
             freeze_notified_on="2026-02-02", seized_on="2026-02-03",
             charge_notified_on="2026-02-04"),
        debt("OOC-P"),
    ]
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": batch})
    assert status == 200, body
    stored = await debts(api)
    assert stored["OOC-T"].served_at is not None
    assert stored["OOC-T"].served_at.isoformat() == "2026-03-01T16:00:00+00:00"
    assert [str(getattr(stored["TAX-M"], name)) for name in
            ("freeze_notified_on", "seized_on", "charge_notified_on")] == [
        "2026-02-02", "2026-02-03", "2026-02-04"]
    assert stored["OOC-P"].served_at is None


async def test_a_time_of_service_without_an_offset_or_on_another_day_is_refused(
    api: Api,
) -> None:
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="ingest",
        body={"debts": [debt("OOC-N", served_at="2026-03-01T18:00:00")]})
    assert status == 422, body
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="ingest",
        body={"debts": [debt("OOC-D", served_at="2026-03-02T08:00:00+02:00")]})
    assert status == 422 and body["error"]["code"] == "invalid_debts", body
    assert "not on served_on 2026-03-01" in body["error"]["details"][0]["msg"]
    assert await debts(api) == {}
async def _news(api: Api) -> list[OutboxMessage]:
    async with api.deps.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row for row in rows if row.dedupe_key.startswith("news:")]


async def test_a_new_debt_through_the_api_is_news_for_the_holders_chat_at_once(
    api: Api,
) -> None:
    await ingest(api, debt("OLD-1"))
    await link_chat(api, "OLD-1", chat_id=77, language="el")

    await ingest(api, debt("OOC-9", amount="300.00", served_on="2026-03-05"),
                 debt("OTHER-1", id_number="7654321"))
    await ingest(api, debt("OOC-9", amount="300.00", served_on="2026-03-05"))  # again

    [news] = await _news(api)
    assert news.chat_id == 77 and news.status == "pending" and news.not_before == api.clock.now
    assert "Νέα οφειλή" in news.payload["text"] and "OOC-9" in news.payload["text"]
    assert "300,00" in news.payload["text"] and news.payload["buttons"]


async def test_a_cancellation_through_the_api_is_told_as_good_news(api: Api) -> None:
    await ingest(api, debt("OOC-1"))
    await link_chat(api, "OOC-1", chat_id=77, language="en")

    status, _ = await api.call("POST", "/api/debts/cancel", scope="ingest",
                               body={"debts": [{"source": "police", "reference": "OOC-1"}],
                                     "status": "withdrawn"})

    assert status == 200
    [news] = await _news(api)
    assert news.payload["text"].startswith("✅ <b>Good news</b>")
    assert "withdrawn" in news.payload["text"] and "85" not in news.payload["text"]
