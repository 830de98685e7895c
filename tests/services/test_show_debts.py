"""The report a verified chat sees: its debts, what is due now, the next deadline, Pay links."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from citizen_seed import Clock, add_company, add_debt, add_person, make_deps

from debtbot.domain.milestones import MilestoneKind
from debtbot.services.chats import touch_chat
from debtbot.services.show_debts import debt_for_chat, payment_url
from debtbot.settings import Settings
from debtbot.store.chats import ChatRepository
from debtbot.store.models import CompanyRepresentative

CHAT = 7001
POLICE = "https://www.jccsmart.com/e-bill/police?reference="


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 23 November 2026, noon in Nicosia


@pytest.fixture
def deps(sessions, database_url, clock):
    return make_deps(sessions, database_url, clock)


async def link(sessions, chat_id=CHAT, *, person_id=None, company_id=None):
    async with sessions() as session, session.begin():
        chats = ChatRepository(session)
        await chats.ensure(chat_id, language="en")
        if company_id is not None:
            await chats.link_company(chat_id, company_id=company_id, verified_by="notice")
        else:
            await chats.link_person(chat_id, person_id=person_id, verified_by="dob")


async def debts_for_chat(deps, *, chat_id):
    """What /debts shows the chat (the door every handler uses)."""
    return (await touch_chat(deps, chat_id=chat_id, language_code="en", with_debts=True)).debts


async def test_unverified_chat_learns_nothing_not_even_whether_debts_exist(deps, sessions):
    person_id = await add_person(sessions)
    debt_id = await add_debt(sessions, reference="OCF-1", person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    assert (report.verified, report.lines) == (False, [])
    assert report.total_due == report.total_payable_now == Decimal("0.00")
    assert await debt_for_chat(deps, chat_id=CHAT, debt_id=debt_id) is None


async def test_report_lists_each_outstanding_debt_with_amount_deadline_and_pay_link(
    deps, sessions
):
    person_id = await add_person(sessions, name="Andreas Georgiou")
    # Served 13 days ago: the notice's amount, payable now.
    fresh = await add_debt(
        sessions, reference="OCF/2026/7", person_id=person_id, served_on=date(2026, 11, 10),
        amount="85.00",
    )
    await add_debt(sessions, reference="PAID-1", person_id=person_id, status="paid")
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    assert report.verified
    assert [line.debt_id for line in report.lines] == [fresh]
    line = report.lines[0]
    assert (line.kind, line.reference, line.authority, line.holder_name) == (
        "out_of_court_fine", "OCF/2026/7", "Cyprus Police", "Andreas Georgiou"
    )
    assert (line.due.total, line.due.surcharge) == (Decimal("85.00"), Decimal("0.00"))
    assert line.next_milestone is not None and line.next_milestone.last_day >= date(2026, 11, 23)
    assert line.pay_url == POLICE + "OCF%2F2026%2F7"
    assert report.total_due == report.total_payable_now == Decimal("85.00")


async def test_surcharge_after_day_30_is_its_own_amount_with_its_legal_basis(deps, sessions):
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="OCF-2", person_id=person_id, served_on=date(2026, 10, 20))
    await link(sessions, person_id=person_id)

    line = (await debts_for_chat(deps, chat_id=CHAT)).lines[0]

    assert (line.due.base, line.due.surcharge, line.due.total) == (
        Decimal("100.00"), Decimal("50.00"), Decimal("150.00")
    )
    assert "note 3" in str(line.due.surcharge_basis)
    assert line.next_milestone.kind is MilestoneKind.PROSECUTION
    assert line.pay_url == POLICE + "OCF-2"


async def test_after_the_45_day_threshold_there_is_no_pay_link(deps, sessions):
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="OCF-OLD", person_id=person_id, served_on=date(2026, 10, 1))
    await add_debt(sessions, reference="OCF-NEW", person_id=person_id, served_on=date(2026, 11, 10))
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    by_reference = {line.reference: line for line in report.lines}
    old = by_reference["OCF-OLD"]
    assert old.due.prosecution and old.pay_url is None
    assert by_reference["OCF-NEW"].pay_url is not None
    assert report.total_payable_now == Decimal("100.00")
    assert report.total_due == Decimal("100.00")  # the prosecuted fine is listed, not totalled


async def test_fine_not_yet_payable_has_no_pay_link_yet(deps, sessions):
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="OCF-NEW", person_id=person_id, served_on=date(2026, 11, 22))
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    line = report.lines[0]
    assert line.pay_url is None and line.due.payable_from is not None
    assert report.total_due == Decimal("100.00")
    assert report.total_payable_now == Decimal("0.00")


async def test_lines_come_soonest_deadline_first(deps, sessions):
    person_id = await add_person(sessions)
    # Served 19 November: payable since 00:00 on the 23rd, the driver named by 4 December;
    # served 19 October: prosecution after 3 December.
    await add_debt(sessions, reference="LATER", person_id=person_id, served_on=date(2026, 11, 19))
    await add_debt(sessions, reference="SOONER", person_id=person_id, served_on=date(2026, 10, 19))
    await add_debt(sessions, reference="NO-CLOCK", person_id=person_id, served_on=None)
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    assert [line.reference for line in report.lines] == ["SOONER", "LATER", "NO-CLOCK"]


async def test_company_debts_go_only_to_chats_that_verified_the_company(deps, sessions):
    person_id = await add_person(sessions, name="Director")
    company_id = await add_company(sessions, name="Lemesos Trading Ltd")
    async with sessions() as session, session.begin():
        session.add(CompanyRepresentative(company_id=company_id, person_id=person_id))
    company_debt = await add_debt(sessions, reference="CO-1", company_id=company_id, kind="tax",
                                  served_on=None, due_on=date(2026, 12, 31), amount="4000.00")
    await link(sessions, person_id=person_id)

    assert (await debts_for_chat(deps, chat_id=CHAT)).lines == []
    assert await debt_for_chat(deps, chat_id=CHAT, debt_id=company_debt) is None

    await link(sessions, company_id=company_id)
    report = await debts_for_chat(deps, chat_id=CHAT)
    assert [(line.reference, line.holder_name) for line in report.lines] == [
        ("CO-1", "Lemesos Trading Ltd")
    ]
    assert report.lines[0].pay_url == "https://www.jccsmart.com/e-bill/tax?reference=CO-1"


async def test_one_debt_is_shown_only_to_its_holders_chat(deps, sessions):
    mine = await add_person(sessions, number="1111111")
    theirs = await add_person(sessions, number="2222222")
    my_debt = await add_debt(sessions, reference="MINE", person_id=mine)
    their_debt = await add_debt(sessions, reference="THEIRS", person_id=theirs)
    paid = await add_debt(sessions, reference="PAID", person_id=mine, status="paid")
    await link(sessions, person_id=mine)

    line = await debt_for_chat(deps, chat_id=CHAT, debt_id=my_debt)
    assert line is not None and line.reference == "MINE"
    assert await debt_for_chat(deps, chat_id=CHAT, debt_id=their_debt) is None
    assert await debt_for_chat(deps, chat_id=CHAT, debt_id=paid) is None
    assert await debt_for_chat(deps, chat_id=CHAT, debt_id=999_999) is None


# --- payment links ------------------------------------------------------------------------


def settings_with(template: str, hosts: str = "www.jccsmart.com") -> Settings:
    return Settings(
        hash_key="k", payment_url_templates={"tax": template}, payment_hosts=hosts
    )


def test_payment_url_fills_in_the_reference_url_quoted():
    settings = settings_with("https://www.jccsmart.com/pay?ref={reference}")
    assert payment_url(settings, kind="tax", reference="A B/1&x=2") == (
        "https://www.jccsmart.com/pay?ref=A%20B%2F1%26x%3D2"
    )


@pytest.mark.parametrize(
    "template",
    [
        "https://phishing.example/pay?ref={reference}",
        "http://www.jccsmart.com/pay?ref={reference}",
        "https://www.jccsmart.com@phishing.example/pay?ref={reference}",
        "https://www.jccsmart.com.phishing.example/?ref={reference}",
        "https://www.jccsmart.com:8443/?ref={reference}",
        "javascript:alert(1)//{reference}",
        "https://www.jccsmart.com/pay",  # no place for the reference
    ],
)
def test_payment_url_is_refused_unless_https_on_an_allowed_host(template):
    assert payment_url(settings_with(template), kind="tax", reference="www.jccsmart.com") is None


def test_reference_cannot_move_the_link_to_another_host():
    settings = settings_with("https://www.jccsmart.com{reference}")
    assert payment_url(settings, kind="tax", reference="@evil.example") is None
    assert payment_url(settings, kind="tax", reference=".evil.example") is None


def test_kind_without_a_template_has_no_payment_url():
    assert payment_url(settings_with("https://www.jccsmart.com/{reference}"), kind="customs",
                       reference="C-1") is None


def test_allowed_hosts_come_from_settings():
    settings = settings_with("https://pay.gov.cy/{reference}", hosts="pay.gov.cy, www.jccsmart.com")
    assert payment_url(settings, kind="tax", reference="T-1") == "https://pay.gov.cy/T-1"


async def test_debt_with_a_template_on_a_host_not_allowed_shows_no_pay_link(
    sessions, database_url, clock
):
    deps = make_deps(
        sessions, database_url, clock,
        payment_url_templates={"out_of_court_fine": "https://evil.example/?r={reference}"},
    )
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="OCF-1", person_id=person_id)
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    assert report.lines[0].pay_url is None
    assert report.total_payable_now == Decimal("100.00")  # payable, just not through a link


async def test_a_fine_is_payable_72_hours_after_the_time_of_service_when_the_registry_gives_it(
    deps, sessions
):
    # Now: 23 November 2026, 12:00 in Nicosia. Served 20 November at 18:00: payable from
    # 18:00 today. Served the same day, time unknown: from 00:00 tomorrow (end of the day).
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="TIMED", person_id=person_id,
                   served_on=date(2026, 11, 20), served_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    await add_debt(sessions, reference="DATED", person_id=person_id,
                   served_on=date(2026, 11, 20))
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    lines = {line.reference: line for line in report.lines}
    assert lines["TIMED"].due.payable_from == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert lines["DATED"].due.payable_from == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert lines["TIMED"].pay_url is None and lines["DATED"].pay_url is None


async def test_a_tax_objection_window_is_shown_only_once_the_registry_reports_the_measure(
    deps, sessions
):
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="TAX-F", person_id=person_id, kind="tax",
                   amount="9000.00", served_on=None, due_on=date(2026, 7, 31),
                   freeze_notified_on=date(2026, 11, 16))
    await add_debt(sessions, reference="TAX-N", person_id=person_id, kind="tax",
                   amount="9000.00", served_on=None, due_on=date(2026, 7, 31))
    await link(sessions, person_id=person_id)

    report = await debts_for_chat(deps, chat_id=CHAT)

    lines = {line.reference: line for line in report.lines}
    window = lines["TAX-F"].next_milestone
    assert window is not None and window.kind is MilestoneKind.FREEZE_OBJECTION
    assert window.last_day == date(2026, 12, 1)  # 15 days from being informed (9B(5))
    assert str(window.legal_basis) == "Tax Collection Law, art. 9B(5)"
    assert lines["TAX-N"].next_milestone is None


@pytest.mark.parametrize(("closed", "last_day"), [(True, date(2026, 12, 29)),
                                                  (False, date(2026, 12, 28))])
async def test_christmas_eve_counts_as_closed_for_an_offices_working_days_by_the_setting(
    sessions, database_url, clock, closed, last_day
):
    deps = make_deps(sessions, database_url, clock, closure_days_closed=closed)
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="RTD-1", person_id=person_id, kind="admin_fine",
                   amount="1500.00", served_on=None, finding_notice_on=date(2026, 12, 18))
    await link(sessions, person_id=person_id)

    [line] = (await debts_for_chat(deps, chat_id=CHAT)).lines

    assert line.next_milestone is not None
    assert line.next_milestone.kind is MilestoneKind.REPRESENTATIONS
    assert line.next_milestone.last_day == last_day
