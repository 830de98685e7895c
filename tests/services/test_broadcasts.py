"""Broadcasts: a segment, a preview in three languages, a second supervisor's approval,
batches at low priority, live progress, cancel part-way, test mode, and CSV notice lists."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import update
from staff_seed import (
    NOW,
    OPERATOR,
    SECOND_SUPERVISOR,
    SUPERVISOR,
    Clock,
    add_chat,
    add_debt,
    add_person,
    add_staff_members,
    make_deps,
    outbox_rows,
)

from debtbot.services import audit, broadcasts, notices
from debtbot.services.broadcasts import Segment, SegmentKind
from debtbot.services.staff import Conflict, Invalid, NotAllowed
from debtbot.store.models import OutboxMessage

BODIES = {
    "el": "Οι πληρωμές κλείνουν στις {deadline}.",
    "en": "Payments close on {deadline}.",
    "tr": "",
}
VALUES = {"deadline": "2026-12-24"}
ALL = Segment(SegmentKind.ALL)


@pytest.fixture
async def deps(sessions):
    deps = make_deps(sessions, clock=Clock())
    await notices.save_template(deps, actor=SUPERVISOR, name="closing", bodies=BODIES)
    return deps


async def _citizens(sessions):
    """Three verified chats (el, en, tr), one unverified, one that blocked the bot."""
    late = await add_person(sessions, number="1000001", name="Late")
    fresh = await add_person(sessions, number="1000002", name="Fresh")
    taxed = await add_person(sessions, number="1000003", name="Taxed")
    await add_chat(sessions, 1, language="el", person_id=late)
    await add_chat(sessions, 2, language="en", person_id=fresh)
    await add_chat(sessions, 3, language="tr", person_id=taxed)
    await add_chat(sessions, 4, language="en")  # never verified
    await add_chat(sessions, 5, language="en", person_id=fresh, active=False)
    # Served 40 days before NOW: past the 30-day surcharge, not yet the 45-day prosecution.
    await add_debt(sessions, person_id=late, reference="L1", served_on=NOW.date() - timedelta(days=40))
    await add_debt(sessions, person_id=fresh, reference="F1", served_on=NOW.date() - timedelta(days=5))
    await add_debt(sessions, person_id=taxed, reference="T1", kind="tax", served_on=None,
                   due_on=date(2027, 1, 31), amount="900.00")


async def _approved(deps, segment=ALL, **kwargs):
    created = await broadcasts.create_broadcast(
        deps, actor=SUPERVISOR, segment=segment, template="closing", values=VALUES, **kwargs
    )
    return await broadcasts.approve_broadcast(deps, actor=SECOND_SUPERVISOR, broadcast_id=created.id)


async def test_preview_shows_three_languages_and_the_dry_run_count(deps, sessions):
    await _citizens(sessions)
    created = await broadcasts.create_broadcast(
        deps, actor=SUPERVISOR, segment=ALL, template="closing", values=VALUES
    )
    preview = await broadcasts.preview_broadcast(deps, broadcast_id=created.id)
    assert preview.count == 3
    assert preview.missing_translations == ["tr"]
    assert [(p.language, p.text, p.fallback) for p in preview.previews] == [
        ("el", "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026.", False),
        ("en", "Payments close on 24 December 2026.", False),
        ("tr", "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026.", True),
    ]
    assert created.status == "awaiting_approval"
    assert await outbox_rows(sessions) == []


async def test_nothing_goes_out_before_a_second_supervisor_approves(deps, sessions):
    await _citizens(sessions)
    created = await broadcasts.create_broadcast(
        deps, actor=SUPERVISOR, segment=ALL, template="closing", values=VALUES
    )
    with pytest.raises(NotAllowed) as same:
        await broadcasts.approve_broadcast(deps, actor=SUPERVISOR, broadcast_id=created.id)
    assert same.value.code == "same_supervisor"
    with pytest.raises(NotAllowed):
        await broadcasts.approve_broadcast(deps, actor=OPERATOR, broadcast_id=created.id)
    assert await outbox_rows(sessions) == []

    approved = await broadcasts.approve_broadcast(
        deps, actor=SECOND_SUPERVISOR, broadcast_id=created.id
    )
    assert (approved.status, approved.approved_by, approved.expected) == ("sending", "staff:202", 3)
    rows = await outbox_rows(sessions)
    assert [(r.chat_id, r.purpose, r.priority, r.dedupe_key) for r in rows] == [
        (1, "broadcast", 50, f"broadcast:{created.id}:1"),
        (2, "broadcast", 50, f"broadcast:{created.id}:2"),
        (3, "broadcast", 50, f"broadcast:{created.id}:3"),
    ]
    assert rows[0].payload["text"] == "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026."
    assert rows[1].payload["text"] == "Payments close on 24 December 2026."
    assert rows[2].payload["text"] == "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026."
    with pytest.raises(Conflict):
        await broadcasts.approve_broadcast(deps, actor=SECOND_SUPERVISOR, broadcast_id=created.id)
    actions = [e.action for e in await audit.list_entries(deps, action="broadcast.")]
    assert actions == ["broadcast.approve", "broadcast.create"]
    [approval] = await audit.list_entries(deps, action="broadcast.approve")
    assert approval.count == 3


@pytest.mark.parametrize(
    ("segment", "chats"),
    [
        (Segment(SegmentKind.DEBT_KIND, debt_kind="tax"), [3]),
        (Segment(SegmentKind.DEBT_KIND, debt_kind="out_of_court_fine"), [1, 2]),
        (Segment(SegmentKind.OVERDUE), [1]),
        (Segment(SegmentKind.PAST_THRESHOLD, milestone="surcharge"), [1]),
        (Segment(SegmentKind.PAST_THRESHOLD, milestone="prosecution"), []),
    ],
)
async def test_segments_choose_their_chats(deps, sessions, segment, chats):
    await _citizens(sessions)
    assert await broadcasts.dry_run(deps, segment=segment) == len(chats)
    await _approved(deps, segment)
    await broadcasts.run_broadcasts(deps)
    assert [r.chat_id for r in await outbox_rows(sessions)] == chats


async def test_segment_validation(deps):
    with pytest.raises(Invalid):
        Segment(SegmentKind.DEBT_KIND)
    with pytest.raises(Invalid):
        Segment.from_dict({"kind": "past_threshold", "milestone": "tomorrow"})
    with pytest.raises(Invalid):
        Segment.from_dict({"kind": "everyone"})


async def test_batches_progress_and_done(deps, sessions):
    await _citizens(sessions)
    for chat in range(100, 105):
        await add_chat(sessions, chat, language="en", person_id=1)
    created = await broadcasts.create_broadcast(
        deps, actor=SUPERVISOR, segment=ALL, template="closing", values=VALUES
    )
    broadcasts.BATCH_SIZE, saved = 3, broadcasts.BATCH_SIZE
    try:
        await broadcasts.approve_broadcast(deps, actor=SECOND_SUPERVISOR, broadcast_id=created.id)
    finally:
        broadcasts.BATCH_SIZE = saved
    assert len(await outbox_rows(sessions)) == 3  # the first batch, before approve returns
    progress = await broadcasts.broadcast_progress(deps, broadcast_id=created.id)
    assert (progress.total, progress.remaining, progress.sent) == (8, 8, 0)

    await broadcasts.run_broadcasts(deps, batch_size=3)
    assert len(await outbox_rows(sessions)) == 8
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).where(OutboxMessage.chat_id <= 2).values(status="sent"))
        await session.execute(update(OutboxMessage).where(OutboxMessage.chat_id == 3).values(status="blocked"))
        await session.execute(update(OutboxMessage).where(OutboxMessage.chat_id == 100).values(status="failed"))
    progress = await broadcasts.broadcast_progress(deps, broadcast_id=created.id)
    assert (progress.sent, progress.blocked, progress.failed, progress.remaining) == (2, 1, 1, 4)
    assert progress.status == "sending"
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending").values(status="sent"))
    await broadcasts.run_broadcasts(deps)
    progress = await broadcasts.broadcast_progress(deps, broadcast_id=created.id)
    assert (progress.status, progress.sent, progress.remaining, progress.total) == ("done", 6, 0, 8)


async def test_cancel_part_way_stops_what_has_not_gone(deps, sessions):
    await _citizens(sessions)
    view = await _approved(deps)
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).where(OutboxMessage.chat_id == 1).values(status="sent"))
    progress = await broadcasts.cancel_broadcast(deps, actor=SUPERVISOR, broadcast_id=view.id)
    assert (progress.status, progress.sent, progress.cancelled, progress.remaining) == (
        "cancelled", 1, 2, 0
    )
    assert {r.status for r in await outbox_rows(sessions)} == {"sent", "cancelled"}
    assert await broadcasts.run_broadcasts(deps) == 0
    with pytest.raises(Conflict):
        await broadcasts.cancel_broadcast(deps, actor=SUPERVISOR, broadcast_id=view.id)
    [entry] = await audit.list_entries(deps, action="broadcast.cancel")
    assert entry.count == 2


async def test_a_send_time_waits_for_its_moment(deps, sessions):
    await _citizens(sessions)
    view = await _approved(deps, send_at=NOW + timedelta(hours=2))
    assert view.status == "approved"
    assert await broadcasts.run_broadcasts(deps) == 0
    deps.clock.advance(hours=2)
    assert await broadcasts.run_broadcasts(deps) == 3
    assert (await broadcasts.get_broadcast(deps, broadcast_id=view.id)).status == "sending"


async def test_test_mode_sends_only_to_the_allow_list(deps, sessions):
    await _citizens(sessions)
    await add_staff_members(deps)
    from debtbot.services import staff
    from debtbot.services.staff import CLI_ACTOR

    await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=201, name="Sofia",
                          role="supervisor", receives_tests=True)
    created = await broadcasts.create_broadcast(
        deps, actor=SUPERVISOR, segment=ALL, template="closing", values=VALUES, test_mode=True
    )
    # The author may try it out alone: it only reaches the allow-list.
    await broadcasts.approve_broadcast(deps, actor=SUPERVISOR, broadcast_id=created.id)
    rows = await outbox_rows(sessions)
    assert {r.chat_id for r in rows} == {201}
    assert sorted(r.payload["text"] for r in rows) == sorted([
        "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026.",
        "Payments close on 24 December 2026.",
        "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026.",
    ])


async def test_only_supervisors_create_and_values_must_be_complete(deps, sessions):
    with pytest.raises(NotAllowed):
        await broadcasts.create_broadcast(
            deps, actor=OPERATOR, segment=ALL, template="closing", values=VALUES
        )
    with pytest.raises(Invalid) as problem:
        await broadcasts.create_broadcast(deps, actor=SUPERVISOR, segment=ALL, template="closing")
    assert problem.value.code == "missing_values"
    assert await broadcasts.list_broadcasts(deps) == []


async def test_progress_message_updates_only_when_counts_change(deps, sessions):
    await _citizens(sessions)
    view = await _approved(deps)
    await broadcasts.set_progress_message(
        deps, broadcast_id=view.id, chat_id=202, message_id=77, language="el"
    )
    [due] = await broadcasts.progress_updates_due(deps)
    assert (due.chat_id, due.message_id, due.language, due.progress.remaining) == (202, 77, "el", 3)
    await broadcasts.mark_progress_shown(deps, broadcast_id=view.id, progress=due.progress)
    assert await broadcasts.progress_updates_due(deps) == []
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).where(OutboxMessage.chat_id == 1).values(status="sent"))
    [due] = await broadcasts.progress_updates_due(deps)
    assert (due.progress.sent, due.progress.remaining) == (1, 2)


CSV_OK = (
    "id_type,id_number,name,amount,deadline\n"
    "id_card,1000001,Late Person,120.50,2026-12-10\n"
    "id_card,1000002,,80,10/12/2026\n"
)


async def test_a_csv_notice_list_is_checked_row_by_row(deps, sessions):
    await _citizens(sessions)
    await notices.save_template(
        deps, actor=SUPERVISOR, name="pay", bodies={"el": "{name}: {amount} έως {deadline}",
                                                     "en": "{name}: {amount} by {deadline}"}
    )
    bad = (
        "id_type,id_number,amount,deadline\n"
        "id_card,1000001,12x,2026-12-10\n"
        "id_card,9999999,10,2026-12-10\n"
        "id_card,1000002,10,someday\n"
        "id_card,1000002,10,2026-12-10\n"
        "id_card,1000002,10,2026-12-10\n"
        "id_card,1000003,10\n"
    )
    check = await broadcasts.check_notice_csv(deps, actor=OPERATOR, template="pay", csv_text=bad)
    assert not check.ok
    assert [(p.line, p.column) for p in check.problems] == [
        (2, "amount"), (3, "id_number"), (4, "deadline"), (6, ""), (7, "deadline"),
    ]
    assert "9999999" not in str(check.problems)
    with pytest.raises(Invalid) as refused:
        await broadcasts.send_notice_csv(deps, actor=SUPERVISOR, template="pay", csv_text=bad)
    assert refused.value.code == "csv_problems"
    assert await outbox_rows(sessions) == []
    assert await broadcasts.list_broadcasts(deps) == []


async def test_a_clean_csv_sends_one_notice_per_row(deps, sessions):
    await _citizens(sessions)
    await notices.save_template(
        deps, actor=SUPERVISOR, name="pay", bodies={"el": "{name}: {amount} έως {deadline}",
                                                     "en": "{name}: {amount} by {deadline}"}
    )
    check = await broadcasts.check_notice_csv(deps, actor=OPERATOR, template="pay", csv_text=CSV_OK)
    assert (check.ok, check.rows, check.chats) == (True, 2, 2)
    with pytest.raises(NotAllowed):
        await broadcasts.send_notice_csv(deps, actor=OPERATOR, template="pay", csv_text=CSV_OK)
    view, _check = await broadcasts.send_notice_csv(
        deps, actor=SUPERVISOR, template="pay", csv_text=CSV_OK
    )
    # A list, like a broadcast, waits for a second supervisor: nothing goes out on one word.
    assert (view.kind, view.status, view.expected) == ("csv", "awaiting_approval", 2)
    assert [r for r in await outbox_rows(sessions) if r.broadcast_id == view.id] == []
    with pytest.raises(NotAllowed):
        await broadcasts.approve_broadcast(deps, actor=SUPERVISOR, broadcast_id=view.id)
    approved = await broadcasts.approve_broadcast(
        deps, actor=SECOND_SUPERVISOR, broadcast_id=view.id
    )
    assert (approved.status, approved.approved_by) == ("sending", "staff:202")
    rows = [r for r in await outbox_rows(sessions) if r.broadcast_id == view.id]
    assert [(r.chat_id, r.purpose, r.priority, r.payload["text"]) for r in rows] == [
        (1, "notice", 30, "Late Person: 120,50\xa0€ έως 10 Δεκεμβρίου 2026"),
        (2, "notice", 30, "Fresh: €80.00 by 10 December 2026"),
    ]
    progress = await broadcasts.broadcast_progress(deps, broadcast_id=view.id)
    assert (progress.total, progress.remaining) == (2, 2)
    [submitted] = await audit.list_entries(deps, action="notice_csv.submit")
    [entry] = await audit.list_entries(deps, action="notice_csv.approve")
    assert (submitted.actor, entry.actor, entry.count) == ("staff:201", "staff:202", 2)


@pytest.mark.parametrize(
    "text", ["", "name,amount\nX,1\n", "chat_id,chat_id\n1,1\n", 'chat_id\n"unterminated\n'],
)
async def test_an_unusable_csv_file_is_refused(deps, text):
    with pytest.raises(Invalid):
        await broadcasts.check_notice_csv(deps, actor=OPERATOR, template="closing", csv_text=text)


async def test_a_discreet_chat_gets_the_broadcast_behind_a_button(deps, sessions):
    await _citizens(sessions)
    async with sessions() as session, session.begin():
        from debtbot.store.models import Chat

        (await session.get(Chat, 2)).discreet = True
    view = await _approved(deps)
    rows = {r.chat_id: r.payload for r in await outbox_rows(sessions)}
    assert rows[1]["text"] == "Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026."
    assert rows[2]["text"].startswith("You have a new message from the authorities.")
    [[button]] = rows[2]["buttons"]
    assert button["callback_data"] == f"nshow:broadcast:{view.id}"
    assert await notices.reveal(deps, chat_id=2, data=button["callback_data"]) == (
        "Payments close on 24 December 2026."
    )


async def test_a_segment_broadcast_says_each_recipients_own_name_amount_and_deadline(deps, sessions):
    await _citizens(sessions)
    await notices.save_template(deps, actor=SUPERVISOR, name="yours", bodies={
        "el": "{name}: {total_due} έως {next_deadline}.",
        "en": "{name}: {total_due} by {next_deadline}.",
    })
    created = await broadcasts.create_broadcast(
        deps, actor=SUPERVISOR, segment=Segment(SegmentKind.DEBT_KIND, debt_kind="out_of_court_fine"),
        template="yours",
    )
    assert created.per_recipient == ["name", "total_due", "next_deadline"]
    preview = await broadcasts.preview_broadcast(deps, broadcast_id=created.id)
    assert preview.previews[1].text.startswith("Late: €150.00 by ")  # the first recipient's
    await broadcasts.approve_broadcast(deps, actor=SECOND_SUPERVISOR, broadcast_id=created.id)
    await broadcasts.run_broadcasts(deps)
    texts = {r.chat_id: r.payload["text"] for r in await outbox_rows(sessions)
             if r.broadcast_id == created.id}
    # Late: served 40 days ago, surcharged by half (Regulations 2021), prosecution after day 45;
    # Fresh: served 5 days ago, its next threshold is day 15.
    assert texts == {
        1: "Late: 150,00\xa0€ έως 28 Νοεμβρίου 2026.",
        2: "Fresh: €100.00 by 3 December 2026.",
    }


async def test_a_past_send_time_is_refused_and_a_rejection_needs_a_reason(deps, sessions):
    await _citizens(sessions)
    with pytest.raises(Invalid) as past:
        await broadcasts.create_broadcast(deps, actor=SUPERVISOR, segment=ALL, template="closing",
                                          values=VALUES, send_at=NOW - timedelta(minutes=1))
    assert past.value.code == "past_send_at"
    created = await broadcasts.create_broadcast(deps, actor=SUPERVISOR, segment=ALL,
                                                template="closing", values=VALUES)
    with pytest.raises(Invalid):
        await broadcasts.reject_broadcast(deps, actor=SECOND_SUPERVISOR,
                                          broadcast_id=created.id, reason=" ")
    with pytest.raises(NotAllowed):
        await broadcasts.reject_broadcast(deps, actor=SUPERVISOR, broadcast_id=created.id,
                                          reason="no")
    rejected = await broadcasts.reject_broadcast(deps, actor=SECOND_SUPERVISOR,
                                                 broadcast_id=created.id, reason="wrong date")
    assert (rejected.status, rejected.rejected_by, rejected.reject_reason) == (
        "rejected", "staff:202", "wrong date")
    with pytest.raises(Conflict):
        await broadcasts.approve_broadcast(deps, actor=SECOND_SUPERVISOR, broadcast_id=created.id)


def test_lists_are_read_in_utf8_with_or_without_bom_and_in_windows_1253():
    text = "reference;name\nR-1;Νίκος\n"
    for data in (text.encode(), b"\xef\xbb\xbf" + text.encode(), text.encode("cp1253")):
        assert broadcasts.decode_csv(data).lstrip("\ufeff") == text
    with pytest.raises(Invalid):
        broadcasts.decode_csv("x".encode("utf-16"))
