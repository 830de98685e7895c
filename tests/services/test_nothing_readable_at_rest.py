"""A copy of the database alone tells nobody who someone is, when they were born or how to
call them: after an import, a verification, a payment and a notice, every table is dumped
and searched for the identity numbers, dates of birth and phone numbers that went in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from debtbot.services import notices
from debtbot.services.deps import Deps
from debtbot.services.ingest.pipeline import import_file
from debtbot.services.notices import RecipientQuery
from debtbot.services.record_payment import record_payment
from debtbot.services.staff import Actor, Role
from debtbot.services.verify_identity import (
    Outcome,
    choose_holder,
    choose_id_type,
    start_verification,
    submit_contact,
    submit_text,
)
from debtbot.settings import Settings
from debtbot.store.models import Base

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OPERATOR = Actor("staff:101", Role.OPERATOR)
SUPERVISOR = Actor("staff:201", Role.SUPERVISOR)
CHAT = 4242

# Who goes in: (id_type, number, date of birth, phone).
PEOPLE = [
    ("id_card", "881001", date(1980, 5, 14), "+35799100001"),
    ("passport", "K1234567", date(1985, 9, 9), "+447911123456"),
    ("arc", "100234", date(1990, 4, 12), "+35796100006"),
]
REPRESENTATIVE = ("id_card", "881077", date(1971, 3, 3), "+35799100077")


def forms_of_date(day: date) -> list[str]:
    return [day.isoformat(), day.strftime("%d/%m/%Y"), day.strftime("%d.%m.%Y"),
            day.strftime("%d-%m-%Y"), day.strftime("%Y%m%d"), day.strftime("%d%m%Y")]


def forms_of_phone(e164: str) -> list[str]:
    digits = e164.lstrip("+")
    return [e164, digits, digits[3:]]  # +35799100001, 35799100001, 99100001


def secrets_that_went_in() -> list[str]:
    found: list[str] = []
    for _, number, born, phone in [*PEOPLE, REPRESENTATIVE]:
        found += [number, *forms_of_date(born), *forms_of_phone(phone)]
    return found


def registry_file(path: Path) -> Path:
    header = ("kind,source,reference,authority,holder_type,id_type,id_number,name,"
              "date_of_birth,phone,amount,served_on,representative_id_type,"
              "representative_id_number,representative_name,representative_date_of_birth,"
              "representative_phone,representative_role")
    rows = [
        f"out_of_court_fine,police,OCF-{n},Police,person,{id_type},{number},Person {n},"
        f"{born.isoformat()},{phone},100,2026-11-10,,,,,,"
        for n, (id_type, number, born, phone) in enumerate(PEOPLE)
    ]
    rep_type, rep_number, rep_born, rep_phone = REPRESENTATIVE
    rows.append(
        "tax,tax,TAX-1,Tax Department,company,company_reg,HE 4242,Acme Ltd,,,2500,2026-11-01,"
        f"{rep_type},{rep_number},Rep One,{rep_born.isoformat()},{rep_phone},director"
    )
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


async def dump_every_table(sessions) -> str:  # type: ignore[no-untyped-def]
    parts: list[str] = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(text(f'SELECT * FROM "{table.name}"'))).all()  # noqa: S608
            parts.append(f"{table.name}: {rows!r}")
    return "\n".join(parts)


async def test_no_identity_number_date_of_birth_or_phone_is_readable_in_any_table(
    sessions, database_url, tmp_path
):
    settings = Settings(hash_key="at-rest-key", database_url=database_url)
    deps = Deps(settings=settings, sessions=sessions, clock=lambda: NOW)

    # An import, with phones, dates of birth and a company's representative.
    report = await import_file(deps, registry_file(tmp_path / "registry.csv"), actor="cli")
    assert report.rejected == 0

    # A verification: number, date of birth (typed), the own contact.
    id_type, number, born, phone = PEOPLE[0]
    await start_verification(deps, chat_id=CHAT)
    await choose_holder(deps, chat_id=CHAT, holder="person")
    await choose_id_type(deps, chat_id=CHAT, id_type=id_type)
    await submit_text(deps, chat_id=CHAT, text=number)
    await submit_text(deps, chat_id=CHAT, text=born.strftime("%d/%m/%Y"))
    mid_dialogue = await dump_every_table(sessions)  # the dialogue's own row, mid-way
    reply = await submit_contact(
        deps, chat_id=CHAT, phone=phone.lstrip("+"), contact_user_id=CHAT, sender_user_id=CHAT
    )
    assert reply.outcome is Outcome.VERIFIED
    # A failed one too (a wrong date and someone's phone), which stays in the dialogue.
    await start_verification(deps, chat_id=CHAT + 1)
    await choose_holder(deps, chat_id=CHAT + 1, holder="person")
    await choose_id_type(deps, chat_id=CHAT + 1, id_type="passport")
    await submit_text(deps, chat_id=CHAT + 1, text=PEOPLE[1][1])
    await submit_text(deps, chat_id=CHAT + 1, text="01/01/1970")
    failed = await submit_contact(deps, chat_id=CHAT + 1, phone=PEOPLE[1][3], contact_user_id=1,
                                  sender_user_id=1)
    assert failed.outcome is Outcome.NOT_MATCHED

    # A payment, with its receipt in the outbox.
    paid = await record_payment(
        deps, provider_ref="PAY-1", reference="OCF-0", source="police", amount=Decimal("100"),
        paid_at=NOW, actor="token:1",
    )
    assert paid.receipts == 1

    # A notice, addressed by identity number.
    await notices.save_template(
        deps, actor=SUPERVISOR, name="hello",
        bodies={"el": "Γεια σας {name}", "en": "Hello {name}", "tr": "Merhaba {name}"},
    )
    sent = await notices.send_notice(
        deps, actor=OPERATOR, recipient=RecipientQuery(id_type=id_type, id_number=number),
        template="hello",
    )
    assert sent.chats == 1

    dump = mid_dialogue + "\n" + await dump_every_table(sessions)
    assert "Person 0" in dump and "Acme Ltd" in dump  # names stay readable for staff
    readable = [secret for secret in secrets_that_went_in() if secret in dump]
    assert readable == []
