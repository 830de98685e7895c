"""/debts under a DEBTBOT_RULES_FILE version: a fine served from its date is judged by it (the
later deadline, its legal basis in the reader's language); one served before, by the law it
was served under, exactly as without the file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps, running, say

from debtbot.rulebook import load_rulebook
from debtbot.services.deps import Deps

CHAT = 5311

LONGER_PERIODS = """
[[version]]
kind = "out_of_court_fine"
effective_from = 2026-11-01
surcharge_days = 90
prosecution_days = 105

[version.basis]
el = "Ν. 99(Ι)/2026"
en = "Law 99(I)/2026"
tr = "99(I)/2026 sayılı Yasa"
"""


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 23 November 2026, 12:00 in Nicosia


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


@pytest.fixture
def deps_with_file(deps: Deps, tmp_path: Path) -> Deps:
    """The deps `debtbot run` builds with DEBTBOT_RULES_FILE set (app.serve: load_rulebook)."""
    path = tmp_path / "rules.toml"
    path.write_text(LONGER_PERIODS, encoding="utf-8")
    settings = deps.settings.model_copy(update={"rules_file": path})
    return Deps(settings=settings, sessions=deps.sessions, clock=deps.clock,
                rulebook=load_rulebook(settings))


@pytest.fixture
async def fines(sessions) -> None:
    person_id = await add_person(sessions)
    await link_person(sessions, CHAT, person_id)
    # Served the day before the version takes effect: 30 days, to Monday 30 November.
    await add_debt(sessions, reference="OC-BEFORE", person_id=person_id,
                   served_on=date(2026, 10, 31))
    # Served after it: 90 days, to Monday 1 February 2027 (30 days would be 3 December).
    await add_debt(sessions, reference="OC-AFTER", person_id=person_id,
                   served_on=date(2026, 11, 3))


def blocks(text: str) -> dict[str, str]:
    """Each debt's lines of a /debts reply, by reference."""
    found = {}
    for block in text.split("\n\n")[1:]:
        reference = next(line for line in block.splitlines() if line.startswith("Reference: "))
        found[reference.removeprefix("Reference: ")] = block
    return found


async def debts_reply(deps: Deps, botapi) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
    return blocks(reply.text)


async def test_a_file_version_moves_the_deadline_of_fines_served_from_its_date_only(
    botapi, deps, deps_with_file, fines
):
    without_file = await debts_reply(deps, botapi)
    with_file = await debts_reply(deps_with_file, botapi)

    assert "⏳ Next deadline: 3 December 2026 (Surcharge)" in without_file["OC-AFTER"]
    assert with_file["OC-AFTER"] == (
        "2. Out-of-court fine\n"
        "Reference: OC-AFTER\n"
        "Issued by: Cyprus Police\n"
        "Due now: €100.00\n"
        "⏳ Next deadline: 1 February 2027 (Surcharge). After that day: A surcharge is added "
        "to the amount.\n"
        "From the next day the amount is €150.00."
    )
    assert with_file["OC-BEFORE"] == without_file["OC-BEFORE"]
    assert "⏳ Next deadline: 30 November 2026 (Surcharge)" in with_file["OC-BEFORE"]


async def test_the_surcharge_under_a_file_version_cites_its_basis_in_the_readers_language(
    botapi, deps_with_file, fines, clock, sessions
):
    from debtbot.store.models import Chat

    async with sessions() as session, session.begin():
        (await session.get(Chat, CHAT)).language = "el"  # type: ignore[union-attr]
    clock.now = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)  # day 92 after OC-AFTER's service

    async with running(deps_with_file, botapi):
        [reply] = await say(botapi, CHAT, "/debts")

    # OC-AFTER: surcharged after day 90, citing the file's basis in Greek; prosecution from
    # day 106. OC-BEFORE, under the 30/45 days it was served under, is past prosecution.
    lines = reply.text.splitlines()
    assert lines[4:10] == [
        "Αριθμός αναφοράς: OC-AFTER",
        "Αρχή έκδοσης: Αστυνομία Κύπρου",
        "Ποσό ειδοποίησης: 100,00\xa0€",
        "Προσαύξηση: 50,00\xa0€ (νομική βάση: Ν. 99(Ι)/2026)",
        "Προς πληρωμή τώρα: 150,00\xa0€",
        "⏳ Επόμενη προθεσμία: 16 Φεβρουαρίου 2027 (Ποινική δίωξη). Μετά από αυτή την ημέρα: "
        "Δεν μπορεί πλέον να εξοφληθεί εξώδικα και η υπόθεση παραπέμπεται για ποινική δίωξη.",
    ]
    assert "Αριθμός αναφοράς: OC-BEFORE" in lines
    assert any("παραπεμφθεί για ποινική δίωξη" in line for line in lines[-2:])
