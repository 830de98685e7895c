"""Rotating DEBTBOT_HASH_KEY: with the old key as DEBTBOT_HASH_KEY_PREVIOUS everything still
matches, rows move to the new key as the registry re-sends them and as people verify, and
`debtbot keys status` counts what is left under the old one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select

from debtbot.domain.identifiers import normalise_identifier
from debtbot.domain.keys import HashKey
from debtbot.services import notices
from debtbot.services.deps import Deps
from debtbot.services.ingest.pipeline import import_file
from debtbot.services.keys import key_status
from debtbot.services.notices import RecipientQuery
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
from debtbot.store.models import Company, DebtRow, Person

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OLD, NEW = "the-old-hash-key", "the-new-hash-key"
HEADER = ("kind,source,reference,authority,holder_type,id_type,id_number,name,date_of_birth,"
          "phone,amount,served_on")
ROWS = [
    "out_of_court_fine,police,OCF-1,Police,person,id_card,881001,Eleni,1980-05-14,"
    "+35799100001,100,2026-11-10",
    "out_of_court_fine,police,OCF-2,Police,person,id_card,881002,Maria,1992-11-03,,100,"
    "2026-11-10",
    "tax,tax,TAX-1,Tax Department,company,company_reg,HE 4242,Acme Ltd,,,2500,2026-11-01",
]


def deps_for(sessions, database_url: str, key: str, previous: str = "") -> Deps:  # type: ignore[no-untyped-def]
    settings = Settings(hash_key=key, hash_key_previous=previous, database_url=database_url)
    return Deps(settings=settings, sessions=sessions, clock=lambda: NOW)


def write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


async def verify(deps: Deps, chat_id: int, number: str, born: str, phone: str) -> Outcome:
    await start_verification(deps, chat_id=chat_id)
    await choose_holder(deps, chat_id=chat_id, holder="person")
    await choose_id_type(deps, chat_id=chat_id, id_type="id_card")
    await submit_text(deps, chat_id=chat_id, text=number)
    await submit_text(deps, chat_id=chat_id, text=born)
    reply = await submit_contact(
        deps, chat_id=chat_id, phone=phone, contact_user_id=chat_id, sender_user_id=chat_id
    )
    return reply.outcome


def counts(status) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    return {t.table: (t.current, t.previous, t.other) for t in status.tables}


async def test_rows_move_to_the_new_key_as_people_verify_and_the_registry_resends_them(
    sessions, database_url, tmp_path
):
    await import_file(deps_for(sessions, database_url, OLD), write(tmp_path / "a.csv", *ROWS),
                      actor="cli")
    rotating = deps_for(sessions, database_url, NEW, previous=OLD)
    status = await key_status(rotating)
    assert status.current_key_id == HashKey(NEW).key_id
    assert status.previous_key_id == HashKey(OLD).key_id
    assert counts(status) == {"persons": (0, 2, 0), "companies": (0, 1, 0)}

    # A person filed under the old key verifies, and moves to the new key.
    assert await verify(rotating, 1, "881001", "14/05/1980", "35799100001") is Outcome.VERIFIED
    assert counts(await key_status(rotating))["persons"] == (1, 1, 0)
    async with sessions() as session:
        eleni = await session.scalar(select(Person).where(Person.name == "Eleni"))
    new_key = HashKey(NEW)
    id_hash = new_key.identifier(normalise_identifier("id_card", "881001"))
    assert (eleni.id_hash, eleni.key_id) == (id_hash, new_key.key_id)
    assert eleni.date_of_birth_hash == new_key.date_of_birth(id_hash, date(1980, 5, 14))
    assert eleni.phone_hash == new_key.phone(id_hash, "+35799100001")
    # ...and still verifies, now under the new key alone.
    assert await verify(rotating, 2, "881001", "14/05/1980", "35799100001") is Outcome.VERIFIED

    # Staff find a person still under the old key by number.
    await notices.save_template(
        rotating, actor=Actor("staff:2", Role.SUPERVISOR), name="hi",
        bodies={"el": "Γεια", "en": "Hi", "tr": "Merhaba"},
    )
    preview = await notices.preview_notice(
        rotating, actor=Actor("staff:1", Role.OPERATOR),
        recipient=RecipientQuery(id_type="id_card", id_number="881002"), template="hi",
    )
    assert preview.chats == 0  # found (no chat yet), not "nobody with that identifier"

    # A company verified with its number and a notice moves too.
    await start_verification(rotating, chat_id=4)
    await choose_holder(rotating, chat_id=4, holder="company")
    await submit_text(rotating, chat_id=4, text="HE 4242")
    assert (await submit_text(rotating, chat_id=4, text="TAX-1")).outcome is Outcome.VERIFIED
    assert counts(await key_status(rotating))["companies"] == (1, 0, 0)

    # The registry sends everything again: the rest moves; nothing is duplicated.
    await import_file(rotating, write(tmp_path / "b.csv", *ROWS), actor="cli")
    assert counts(await key_status(rotating)) == {"persons": (2, 0, 0), "companies": (1, 0, 0)}
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 2
        assert await session.scalar(select(func.count()).select_from(Company)) == 1
        debts = (await session.execute(select(DebtRow.reference, DebtRow.person_id))).all()
    assert len(debts) == 3
    # Done: the previous key can go, and everyone still matches.
    done = deps_for(sessions, database_url, NEW)
    assert await verify(done, 3, "881002", "03/11/1992", "35799555555") is Outcome.VERIFIED


async def test_a_resent_row_without_the_phone_on_file_stays_under_the_old_key_and_matches(
    sessions, database_url, tmp_path
):
    await import_file(deps_for(sessions, database_url, OLD), write(tmp_path / "a.csv", ROWS[0]),
                      actor="cli")
    rotating = deps_for(sessions, database_url, NEW, previous=OLD)
    without_phone = ROWS[0].replace("+35799100001", "").replace("100,", "150,", 1)

    await import_file(rotating, write(tmp_path / "b.csv", without_phone), actor="cli")

    # The phone hash cannot be made again without the phone: the row keeps its key, whole.
    assert counts(await key_status(rotating))["persons"] == (0, 1, 0)
    async with sessions() as session:
        assert await session.scalar(select(DebtRow.amount)) == 150
    assert await verify(rotating, 1, "881001", "14/05/1980", "+35799100001") is Outcome.VERIFIED
    assert counts(await key_status(rotating))["persons"] == (1, 0, 0)


async def test_without_the_previous_key_old_rows_match_nothing_and_status_says_so(
    sessions, database_url, tmp_path
):
    await import_file(deps_for(sessions, database_url, OLD), write(tmp_path / "a.csv", ROWS[1]),
                      actor="cli")
    dropped_too_early = deps_for(sessions, database_url, NEW)

    assert await verify(dropped_too_early, 1, "881002", "03/11/1992", "+35799555555") is (
        Outcome.NOT_MATCHED
    )
    status = await key_status(dropped_too_early)
    assert status.previous_key_id is None
    assert counts(status)["persons"] == (0, 0, 1)
