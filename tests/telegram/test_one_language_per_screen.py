"""Every screen a citizen reads — the debts report, the detail view, reminders, receipts, the
calendar file — in
each language, for each kind of debt and with each of its milestones ahead, holds text in one
script only: no Greek in English or Turkish, no Latin words in Greek. Debt references, personal
names, web addresses, /commands and the official abbreviations ARC and Telegram excepted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from icalendar import Calendar

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import local_date
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import milestones, next_milestone
from debtbot.domain.rules import DEFAULT_RULEBOOK
from debtbot.i18n import LANGUAGES, translator
from debtbot.services import record_payment
from debtbot.services.reminder_text import render_milestone_reminder, render_warrant_reminder
from debtbot.services.show_debts import DebtLine, DebtReport, upcoming_milestones
from debtbot.telegram import render
from debtbot.telegram.calendar_file import calendar_file

REFERENCE = "REF-2026-0001"
HOLDER = "Andreas Georgiou"
PAY_URL = "https://pay.example.gov.cy/e-bill?reference=REF"
GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")
ALLOWED_LATIN = {"ARC", "HE", "Telegram"}

# Each kind with a registry spelling of its authority in a language other than the reader's.
DEBTS = [
    Debt(DebtKind.OUT_OF_COURT_FINE, REFERENCE, Decimal("100.00"), date(2026, 11, 1),
         authority="Αστυνομία Κύπρου", points=3),
    Debt(DebtKind.OUT_OF_COURT_FINE, REFERENCE, Decimal("85.00"), None, authority="Cyprus Police"),
    Debt(DebtKind.FINE_WARRANT, REFERENCE, Decimal("250.00"), date(2026, 5, 1),
         authority="District Court of Nicosia"),
    Debt(DebtKind.ADMIN_FINE, REFERENCE, Decimal("1500.00"), date(2026, 11, 20),
         authority="Τμήμα Οδικών Μεταφορών", finding_notice_on=date(2026, 11, 10)),
    Debt(DebtKind.TAX, REFERENCE, Decimal("6300.00"), None, due_on=date(2026, 11, 1),
         authority="Tax Department"),
    Debt(DebtKind.CUSTOMS, REFERENCE, Decimal("5200.00"), date(2026, 11, 20),
         authority="Τμήμα Τελωνείων", post_clearance=True),
]


def _moments(debt: Debt) -> list[datetime]:
    # One instant before each milestone (so each is "next" once), and one after them all.
    found = milestones(debt)
    moments = [m.takes_effect - timedelta(hours=1) for m in found]
    moments.append((found[-1].takes_effect if found else datetime(2026, 11, 23, tzinfo=UTC))
                   + timedelta(days=1))
    return moments


def _line(debt: Debt, now: datetime) -> DebtLine:
    due = amount_due(debt, now)
    line = DebtLine(
        debt_id=7, kind=debt.kind.value, reference=debt.reference, authority=debt.authority,
        holder_name=HOLDER, served_on=debt.served_on, due=due,
        next_milestone=next_milestone(debt, now), pay_url=PAY_URL, debt=debt,
        today=local_date(now),
        no_clock=(debt.due_on if debt.kind is DebtKind.TAX else debt.served_on) is None
        and debt.kind is not DebtKind.FINE_WARRANT,
    )
    return line


def _screens(language: str) -> list[tuple[str, str, list[str]]]:
    t = translator(language)
    screens = []
    for debt in DEBTS:
        for now in _moments(debt):
            line = _line(debt, now)
            label = f"{debt.kind.value} at {now:%Y-%m-%d %H:%M}"
            report = DebtReport(True, [line, line], due_total := line.due.total, due_total)
            page = render.debts_page(t, report, 1)
            screens.append((f"report, {label}", page.text, _labels(page.markup)))
            detail = render.debt_detail(t, line)
            screens.append((f"detail, {label}", detail.text, _labels(detail.markup)))
            if not line.no_clock and upcoming_milestones(line):
                ics = Calendar.from_ical(calendar_file(t, line, now=now))
                for event in ics.walk("VEVENT"):
                    screens.append((f"calendar, {label}", str(event["summary"]),
                                    [str(event["description"])]))
            upcoming = next_milestone(debt, now)
            if upcoming is not None:
                payload = render_milestone_reminder(
                    t, debt_id=7, debt=debt, milestone=upcoming, now=now, pay_url=PAY_URL,
                    discreet=False, rulebook=DEFAULT_RULEBOOK,
                )
                screens.append((f"reminder, {label}", payload["text"], _payload_labels(payload)))
        if debt.kind is DebtKind.FINE_WARRANT:
            payload = render_warrant_reminder(
                t, debt_id=7, debt=debt, now=datetime(2026, 11, 23, tzinfo=UTC),
                pay_url=PAY_URL, discreet=False, rulebook=DEFAULT_RULEBOOK,
            )
            screens.append(("warrant reminder", payload["text"], _payload_labels(payload)))
        for remaining, by, refund in [
            (Decimal("0.00"), None, Decimal("0.00")),
            (Decimal("12.50"), date(2026, 12, 1), Decimal("0.00")),
            (Decimal("12.50"), None, Decimal("0.00")),
            (Decimal("0.00"), None, Decimal("915.00")),
        ]:
            receipt = record_payment.Receipt(
                kind=debt.kind.value, reference=debt.reference, amount=Decimal("10.00"),
                paid_total=Decimal("20.00"), remaining=remaining, remaining_by=by,
                refund_due=refund, paid_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
            )
            payload = record_payment.render_receipt(t, receipt, discreet=False)
            screens.append((f"receipt {debt.kind.value}", payload["text"], []))
    return screens


def _labels(markup: object) -> list[str]:
    rows = getattr(markup, "inline_keyboard", None) or []
    return [button.text for row in rows for button in row]


def _payload_labels(payload: dict) -> list[str]:
    return [button["text"] for row in payload.get("buttons", []) for button in row]


def _foreign(language: str, text: str) -> list[str]:
    text = re.sub(r"<[^>]+>", " ", text)
    for excepted in (REFERENCE, HOLDER):
        text = text.replace(excepted, " ")
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"/[a-z_]+", " ", text)
    if language == "el":
        return [word for word in LATIN_WORD.findall(text) if word not in ALLOWED_LATIN]
    return GREEK.findall(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_is_in_one_language(language: str) -> None:
    screens = _screens(language)
    assert len(screens) > 60
    problems = []
    for name, text, buttons in screens:
        for part in [text, *buttons]:
            if found := _foreign(language, part):
                problems.append((name, found, part))
    assert problems == []


def test_legal_bases_are_cited_in_the_readers_language() -> None:
    from debtbot.domain.legal import regulations_note, road_transport_article, tax_article
    from debtbot.texts import legal_basis

    note_3 = regulations_note("3")
    assert legal_basis(translator("el"), note_3) == "Κανονισμοί 2021, Έντυπο Τύπου Ε, σημ. 3"
    assert legal_basis(translator("tr"), note_3) == "2021 Yönetmeliği, E Tipi form, not 3"
    assert legal_basis(translator("en"), note_3) == "Regulations 2021, form Type E, note 3"
    assert legal_basis(translator("el"), tax_article("9C")) == (
        "Νόμος περί Είσπραξης Φόρων, άρθρο 9Γ"
    )
    assert legal_basis(translator("en"), road_transport_article("23A(4)", annex="II")) == (
        "Law 47(I)/2024, art. 23A(4), Annex II"
    )
    assert legal_basis(translator("el"), road_transport_article("23A(4)", "23A(7)")) == (
        "Ν. 47(Ι)/2024, άρθρα 23Α(4) και 23Α(7)"
    )


def test_authorities_are_named_in_the_readers_language_whatever_the_registry_wrote() -> None:
    from debtbot.texts import authority_name

    for written in ("Cyprus Police", "Αστυνομία Κύπρου", "police", "ΑΣΤΥΝΟΜΙΑ ΚΥΠΡΟΥ"):
        assert authority_name(translator("tr"), written) == "Kıbrıs Polisi"
        assert authority_name(translator("el"), written) == "Αστυνομία Κύπρου"
    assert authority_name(translator("en"), "Τμήμα Τελωνείων") == "Department of Customs and Excise"
    # Unknown: shown as the registry gave it.
    assert authority_name(translator("en"), "Δήμος Λευκωσίας") == "Δήμος Λευκωσίας"
