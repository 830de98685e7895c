"""The registry's dates win: optional surcharge_on / prosecution_on on an out-of-court fine
are stored, shown and paid by; a difference from the rulebook is audited and counted; dates
that cannot be (before service, in the wrong order, for another kind) are refused."""

from __future__ import annotations

from http_support import Api, debt, ingest
from sqlalchemy import select

from debtbot.store.models import AuditEntry, DebtRow


async def test_registry_dates_are_stored_and_a_difference_is_audited_and_counted(
    api: Api,
) -> None:
    # Served 2026-03-01: the rulebook's surcharge starts 2026-04-01 (day 31), prosecution
    # 2026-04-16 (day 46).
    await ingest(api, debt("OOC-R1", served_on="2026-03-01", surcharge_on="2026-04-03",
                           prosecution_on="2026-04-16"),
                 debt("OOC-R2", served_on="2026-03-01", surcharge_on="2026-04-01"))
    async with api.deps.sessions() as session:
        stored = (await session.execute(
            select(DebtRow.reference, DebtRow.surcharge_on, DebtRow.prosecution_on)
            .order_by(DebtRow.reference)
        )).all()
        entries = list(await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "debts.registry_dates_differ")
        ))
    assert [(ref, str(s), str(p)) for ref, s, p in stored] == [
        ("OOC-R1", "2026-04-03", "2026-04-16"), ("OOC-R2", "2026-04-01", "None"),
    ]
    [entry] = entries
    assert entry.count == 1
    assert entry.details["debts"] == [{
        "debt": "police:OOC-R1",
        "surcharge_on": {"registry": "2026-04-03", "rulebook": "2026-04-01"},
    }]
    _, text = await api.call("GET", "/metrics")
    assert "debtbot_debts_registry_dates_differ 1.0" in text.splitlines()


async def test_a_surcharge_date_before_service_is_refused_with_a_reason(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest", body={"debts": [
        debt("OOC-R3", served_on="2026-03-01", surcharge_on="2026-02-20"),
        debt("OOC-R4", served_on="2026-03-01", surcharge_on="2026-04-01",
             prosecution_on="2026-03-20"),
        debt("TAX-R5", kind="tax", source="tax", served_on=None, due_on="2026-04-30",
             surcharge_on="2026-05-01"),
    ]})
    assert status == 422, body
    reasons = {(d["loc"][-1], d["msg"]) for d in body["error"]["details"]}
    assert ("surcharge_on", "2026-02-20 is not after served_on (2026-03-01)") in reasons
    assert ("prosecution_on", "2026-03-20 is not after surcharge_on (2026-04-01)") in reasons
    assert ("surcharge_on", "is given only for out-of-court fines") in reasons
    async with api.deps.sessions() as session:
        assert (await session.scalar(select(DebtRow.id))) is None


async def test_a_payment_is_judged_by_the_registry_surcharge_date(api: Api) -> None:
    from test_payments import pay, payment

    # On 2026-03-10 (the test clock) the rulebook surcharges a fine served 2026-02-05 (from
    # 2026-03-08, day 31); the registry says from 2026-03-12: the plain amount is due.
    await ingest(api, debt("OOC-R6", served_on="2026-02-05", amount="100.00",
                           surcharge_on="2026-03-12"))
    status, body = await pay(api, payment("OOC-R6", amount="100.00"))
    assert status == 201 and body["status"] == "paid" and body["amount_due"] == "100.00", body
