"""A notice to one person reaches every chat linked to them, each in its own language."""

from __future__ import annotations

import pytest
from staff_seed import (
    OPERATOR,
    SUPERVISOR,
    add_chat,
    add_company,
    add_debt,
    add_person,
    make_deps,
    outbox_rows,
)

from debtbot.services import audit, notices
from debtbot.services.notices import NoticeTemplate, RecipientQuery
from debtbot.services.staff import Invalid, NotAllowed, NotFound

BODIES = {
    "el": "Αγαπητέ/ή {name}, η κλήση {reference} ({amount}) λήγει στις {deadline}.",
    "en": "Dear {name}, notice {reference} ({amount}) is due by {deadline}.",
    "tr": "",
}


@pytest.fixture
async def deps(sessions):
    deps = make_deps(sessions)
    await notices.save_template(deps, actor=SUPERVISOR, name="due", bodies=BODIES)
    return deps


async def _person_with_chats(sessions):
    person = await add_person(sessions, name="Eleni <Kyriakou>")
    await add_chat(sessions, 11, language="el", person_id=person)
    await add_chat(sessions, 12, language="en", person_id=person)
    await add_chat(sessions, 13, language="tr", person_id=person)
    await add_chat(sessions, 14, language="en", person_id=person, active=False)  # blocked the bot
    await add_chat(sessions, 99, language="en")  # someone else
    return person


async def test_notice_by_identifier_reaches_every_linked_chat_in_its_language(deps, sessions):
    await _person_with_chats(sessions)
    result = await notices.send_notice(
        deps,
        actor=OPERATOR,
        recipient=RecipientQuery(id_type="id_card", id_number="1234567"),
        template="due",
        values={"reference": "OCF-9", "amount": "150", "deadline": "2026-12-01"},
    )
    assert (result.chats, result.queued) == (3, 3)
    assert result.missing_translations == ["tr"]
    assert [(p.language, p.fallback) for p in result.previews] == [
        ("el", False), ("en", False), ("tr", True)
    ]
    texts = {row.chat_id: row.payload["text"] for row in await outbox_rows(sessions)}
    assert texts == {
        11: "Αγαπητέ/ή Eleni &lt;Kyriakou&gt;, η κλήση OCF-9 (150,00\xa0€) λήγει στις 1 Δεκεμβρίου 2026.",
        12: "Dear Eleni &lt;Kyriakou&gt;, notice OCF-9 (€150.00) is due by 1 December 2026.",
        # Turkish has no body: the Greek one, with Greek money and dates (not Turkish ones
        # inside a Greek sentence).
        13: "Αγαπητέ/ή Eleni &lt;Kyriakou&gt;, η κλήση OCF-9 (150,00\xa0€) λήγει στις 1 Δεκεμβρίου 2026.",
    }
    rows = await outbox_rows(sessions)
    assert {(r.purpose, r.priority) for r in rows} == {("notice", 30)}
    [entry] = await audit.list_entries(deps, action="notice.send")
    assert (entry.actor, entry.count, entry.details["chats"]) == ("staff:101", 3, 3)
    assert "1234567" not in str(entry.details) + entry.subject


async def test_notice_by_debt_reference_fills_in_the_debt(deps, sessions):
    person = await add_person(sessions, name="Petros")
    await add_chat(sessions, 21, language="en", person_id=person)
    await add_debt(sessions, person_id=person, reference="OCF-77", amount="100.00")
    result = await notices.send_notice(
        deps, actor=OPERATOR, recipient=RecipientQuery(reference="OCF-77"), template="due"
    )
    assert result.queued == 1
    [row] = await outbox_rows(sessions)
    # Day 22 after service: the amount on the notice, due before the 30-day surcharge.
    assert row.payload["text"] == "Dear Petros, notice OCF-77 (€100.00) is due by 1 December 2026."


async def test_notice_by_chat_reaches_the_persons_other_chats(deps, sessions):
    await _person_with_chats(sessions)
    result = await notices.preview_notice(
        deps,
        actor=OPERATOR,
        recipient=RecipientQuery(chat_id=12),
        template="due",
        values={"reference": "X", "amount": "1", "deadline": "2026-12-01"},
    )
    assert (result.chats, result.queued) == (3, 0)
    assert await outbox_rows(sessions) == []


async def test_notice_to_a_company_reaches_its_representatives_chats(deps, sessions):
    company = await add_company(sessions, number="HE 123", name="Kafe Ltd")
    await add_chat(sessions, 31, language="el", company_id=company)
    result = await notices.send_notice(
        deps,
        actor=OPERATOR,
        recipient=RecipientQuery(id_type="company_reg", id_number="ΗΕ-123"),
        template="due",
        values={"reference": "T-1", "amount": "5", "deadline": "2026-12-31"},
    )
    assert result.queued == 1
    assert "Kafe Ltd" in (await outbox_rows(sessions))[0].payload["text"]


async def test_a_missing_value_queues_nothing(deps, sessions):
    await _person_with_chats(sessions)
    with pytest.raises(Invalid) as problem:
        await notices.send_notice(
            deps,
            actor=OPERATOR,
            recipient=RecipientQuery(id_type="id_card", id_number="1234567"),
            template="due",
            values={"reference": "X"},
        )
    assert problem.value.code == "missing_values"
    assert await outbox_rows(sessions) == []
    assert await audit.list_entries(deps, action="notice.send") == []


async def test_the_same_idempotency_key_sends_once(deps, sessions):
    await _person_with_chats(sessions)
    for _ in range(2):
        result = await notices.send_notice(
            deps,
            actor=OPERATOR,
            recipient=RecipientQuery(id_type="id_card", id_number="1234567"),
            template="due",
            values={"reference": "X", "amount": "1", "deadline": "2026-12-01"},
            idempotency_key="req-1",
        )
    assert result.queued == 0
    assert len(await outbox_rows(sessions)) == 3


@pytest.mark.parametrize(
    ("query", "error", "code"),
    [
        (RecipientQuery(id_type="id_card", id_number="7654321"), NotFound, "no_recipient"),
        (RecipientQuery(id_type="id_card", id_number="12"), Invalid, "bad_identifier"),
        (RecipientQuery(reference="NOPE"), NotFound, "no_recipient"),
        (RecipientQuery(chat_id=99), NotFound, "no_recipient"),
        (RecipientQuery(chat_id=99, reference="X"), Invalid, "bad_recipient"),
        (RecipientQuery(), Invalid, "bad_recipient"),
    ],
)
async def test_unknown_or_malformed_recipients_are_refused(deps, sessions, query, error, code):
    await _person_with_chats(sessions)
    with pytest.raises(error) as problem:
        await notices.send_notice(deps, actor=OPERATOR, recipient=query, template="due", values={})
    assert problem.value.code == code
    assert await outbox_rows(sessions) == []


async def test_the_same_reference_in_two_registries_needs_the_source(deps, sessions):
    person = await add_person(sessions)
    await add_chat(sessions, 41, person_id=person)
    await add_debt(sessions, person_id=person, reference="R1", source="police")
    await add_debt(sessions, person_id=person, reference="R1", source="tax", kind="tax")
    with pytest.raises(Invalid) as problem:
        await notices.preview_notice(
            deps, actor=OPERATOR, recipient=RecipientQuery(reference="R1"), template="due"
        )
    assert problem.value.code == "ambiguous_reference"
    result = await notices.preview_notice(
        deps, actor=OPERATOR, recipient=RecipientQuery(reference="R1", source="police"),
        template="due",
    )
    assert result.chats == 1


@pytest.mark.parametrize(
    "body",
    ["{name.__class__}", "{amount!r}", "{amount:>99}", "{0}", "unbalanced {name", "{Name}"],
)
async def test_templates_allow_only_plain_placeholders(deps, body):
    with pytest.raises(Invalid):
        await notices.save_template(deps, actor=SUPERVISOR, name="bad", bodies={"el": body})


async def test_a_template_needs_greek_and_a_supervisor(deps):
    with pytest.raises(Invalid) as problem:
        await notices.save_template(deps, actor=SUPERVISOR, name="x", bodies={"en": "Hi"})
    assert problem.value.code == "no_greek"
    with pytest.raises(NotAllowed):
        await notices.save_template(deps, actor=OPERATOR, name="x", bodies={"el": "Γεια"})
    assert [t.name for t in await notices.list_templates(deps)] == ["due"]


async def test_an_ad_hoc_template_and_literal_braces(deps, sessions):
    await _person_with_chats(sessions)
    result = await notices.preview_notice(
        deps,
        actor=OPERATOR,
        recipient=RecipientQuery(chat_id=11),
        template=NoticeTemplate("adhoc", {"el": "{{κωδικός}} {name} & <b>"}),
    )
    # Previews are plain text (a web page or JSON escapes them); the message is Telegram HTML.
    assert result.previews[0].text == "{κωδικός} Eleni <Kyriakou> & <b>"


async def test_a_discreet_chat_gets_a_teaser_and_reads_the_notice_behind_its_button(deps, sessions):
    person = await add_person(sessions, name="Maria")
    await add_chat(sessions, 51, language="el", person_id=person)
    async with sessions() as session, session.begin():
        from debtbot.store.models import Chat

        (await session.get(Chat, 51)).discreet = True
    await notices.send_notice(
        deps, actor=OPERATOR, recipient=RecipientQuery(chat_id=51), template="due",
        values={"reference": "X-1", "amount": "150", "deadline": "2026-12-01"},
    )
    [row] = await outbox_rows(sessions)
    assert row.payload["text"] == (
        "Έχετε νέο μήνυμα από τις αρχές. Πατήστε το κουμπί για να το διαβάσετε εδώ."
    )
    [[button]] = row.payload["buttons"]
    assert button["text"] == "Ανάγνωση"
    assert len(button["callback_data"].encode()) <= 64
    shown = await notices.reveal(deps, chat_id=51, data=button["callback_data"])
    assert shown == "Αγαπητέ/ή Maria, η κλήση X-1 (150,00\xa0€) λήγει στις 1 Δεκεμβρίου 2026."
    # Another chat pressing forged data, or data of no notice, sees nothing.
    assert await notices.reveal(deps, chat_id=99, data=button["callback_data"]) is None
    assert await notices.reveal(deps, chat_id=51, data="nshow:notice:nope") is None


async def test_each_edit_is_a_version_and_a_notice_records_the_one_it_used(deps, sessions):
    person = await add_person(sessions, name="Versioned")
    await add_chat(sessions, 31, language="en", person_id=person)
    await notices.save_template(deps, actor=SUPERVISOR, name="v", bodies={"el": "Α {name}", "en": "A {name}"})
    await notices.save_template(deps, actor=SUPERVISOR, name="v", bodies={"el": "Β {name}", "en": "B {name}"})
    versions = await notices.template_versions(deps, name="v")
    assert [(v.version, v.bodies["en"]) for v in versions] == [(2, "B {name}"), (1, "A {name}")]
    result = await notices.send_notice(deps, actor=OPERATOR, recipient=RecipientQuery(chat_id=31),
                                       template="v")
    notice = await notices.get_notice(deps, notice_id=result.notice_id)
    assert (notice.template, notice.template_version, notice.queued) == ("v", 2, 1)
    with pytest.raises(Invalid) as differ:
        await notices.save_template(deps, actor=SUPERVISOR, name="v",
                                    bodies={"el": "Γ {name}", "en": "C {nme}"})
    assert differ.value.code == "placeholders_differ"
    assert len(await notices.template_versions(deps, name="v")) == 2
