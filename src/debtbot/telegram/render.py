"""From the services' answers to what the citizen reads: Telegram HTML and buttons.

Every dynamic value is escaped (`html.escape`) before it goes into a message; messages are
sent with parse mode HTML. The language is always the Translator passed in.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from debtbot import authorities
from debtbot.domain.calendar import local_date
from debtbot.domain.legal import Basis, regulations_note
from debtbot.i18n import Translator
from debtbot.telegram import keyboards
from debtbot.texts import (
    authority_name,
    deadline_consequence,
    how_to_object,
    kind_label,
    legal_basis,
    milestone_title,
    objection_bases,
    opening_hours,
    penalty_points,
)

if TYPE_CHECKING:
    from debtbot.domain.milestones import Milestone
    from debtbot.services.show_debts import DebtLine, DebtReport
    from debtbot.services.verify_identity import VerificationReply

PAGE_SIZE = 5
MAX_MESSAGE = 4096
_FIELD_LIMIT = 120

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    markup: Markup = None


# Babel's formatting is the costliest step of a report; amounts and dates repeat a lot.
@lru_cache(maxsize=4096)
def _money(t: Translator, amount: Decimal) -> str:
    return html.escape(t.money(amount), quote=False)


@lru_cache(maxsize=4096)
def _date(t: Translator, day: date) -> str:
    return html.escape(t.date(day), quote=False)


def _datetime(t: Translator, moment: datetime) -> str:
    return html.escape(t.datetime(moment), quote=False)


def _text(value: str) -> str:
    # The bot's own words (from the catalogs): escaped, never cut.
    return html.escape(value, quote=False)


def esc(value: object, *, limit: int = _FIELD_LIMIT) -> str:
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


# --- general ---------------------------------------------------------------------------


def something_went_wrong(t: Translator) -> str:
    return t.gettext("Sorry, something went wrong on our side. Please try again in a moment.")


def stale_button(t: Translator) -> str:
    return t.gettext("That button is no longer valid. Send /start to begin again.")


def not_understood(t: Translator) -> str:
    return t.gettext(
        "I did not understand that. Send /debts to see what you owe, "
        "or /help for everything I can do."
    )


def unknown_command(t: Translator) -> str:
    return t.gettext("I do not know that command. Send /help to see what I can do.")


def text_only(t: Translator) -> str:
    return t.gettext(
        "I can only read text messages and the buttons I send. "
        "Send /help to see what I can do."
    )


def edited_message(t: Translator) -> str:
    return t.gettext(
        "I do not read edited messages. Please send your answer again as a new message."
    )


def not_verified(t: Translator) -> str:
    return t.gettext(
        "I can show debts only after confirming who you are. Send /start to begin."
    )


# --- verification ------------------------------------------------------------------------


def welcome(t: Translator) -> str:
    return t.gettext(
        "Welcome! I can tell you what you owe the Republic of Cyprus (out-of-court fines, "
        "fine warrants, administrative fines, tax and customs debts), remind you before a "
        "deadline passes and take you to the official payment page."
    )


def welcome_back(t: Translator, names: list[str]) -> Reply:
    text = t.gettext(
        "Welcome back. This chat is linked to: %(names)s.\n\n"
        "Send /debts to see what is outstanding, or /help for everything I can do."
    ) % {"names": ", ".join(f"<b>{esc(name)}</b>" for name in names)}
    markup = InlineKeyboardMarkup(
        [
            [keyboards.show_debts_button(t)],
            [
                InlineKeyboardButton(
                    t.pgettext("button", "Add a person or company"), callback_data="verify:start"
                )
            ],
        ]
    )
    return Reply(text, markup)


def ask(
    t: Translator, step: str, *, id_type: str | None = None, choices: tuple[str, ...] = ()
) -> Reply:
    """The question for a verification step, with the buttons or keyboard it needs."""
    from debtbot.services.verify_identity import Step

    if step == Step.CHOOSE_ID_TYPE and choices:
        return Reply(
            t.gettext(
                "Numbers like this one are used for identity cards and for ARCs. Which "
                "document is it from?"
            ),
            keyboards.id_type_keyboard(t, only=choices),
        )
    if step == Step.CHOOSE_HOLDER:
        return Reply(
            t.gettext(
                "First I need to confirm who you are. Are you asking for yourself or for a "
                "company you represent? You can also type the number of your identity card, "
                "ARC, passport or company registration straight away."
            ),
            keyboards.holder_keyboard(t),
        )
    if step == Step.CHOOSE_ID_TYPE:
        return Reply(
            t.gettext("Which document would you like to identify yourself with?"),
            keyboards.id_type_keyboard(t),
        )
    if step == Step.ID_NUMBER:
        prompts = {
            "id_card": t.gettext("Please type your identity card number."),
            "arc": t.gettext("Please type your ARC number."),
            "passport": t.gettext("Please type your passport number."),
        }
        default = t.gettext("Please type the number of your document.")
        return Reply(prompts.get(id_type or "", default))
    if step == Step.DATE_OF_BIRTH:
        return Reply(t.gettext("Please type your date of birth, for example 23/11/1980."))
    if step == Step.CONTACT:
        return Reply(
            t.gettext(
                "To confirm it is you, press the button below to share the phone number of "
                "this Telegram account. It must be the number the authorities have on record "
                "for you."
            ),
            keyboards.contact_keyboard(t),
        )
    if step == Step.COMPANY_NUMBER:
        return Reply(
            t.gettext("Please type the company's registration number, for example HE 123456.")
        )
    if step == Step.NOTICE_REFERENCE:
        return Reply(
            t.gettext(
                "Please type the reference number printed on one of the notices you have "
                "received (a fine, a tax or a customs notice)."
            )
        )
    return Reply(t.gettext("Please answer the question above."))


def problem_text(t: Translator, problem: str | None) -> str:
    problems = {
        "bad_date": t.gettext(
            "I cannot read that as a date. Please write it as day/month/year, "
            "for example 23/11/1980."
        ),
        "future_date": t.gettext("That date is in the future."),
        "impossible_date": t.gettext(
            "That date does not exist. Please check the day and the month."
        ),
        "bad_identifier": t.gettext(
            "That does not look like a valid number for this document. "
            "Please check it and type it again."
        ),
        "bad_id_card": t.gettext(
            "An identity card number has only digits, 4 to 10 of them. "
            "Please check it and type it again."
        ),
        "bad_arc": t.gettext(
            "An ARC number has 3 to 10 digits, sometimes after the letters ARC. "
            "Please check it and type it again."
        ),
        "bad_passport": t.gettext(
            "A passport number has 5 to 12 letters and digits. Please check it and type it again."
        ),
        "bad_company_number": t.gettext(
            "A company registration number is a prefix such as HE followed by digits, for "
            "example HE 123456. Please check it and type it again."
        ),
        "date_first": t.gettext(
            "That looks like a date of birth. First I need the number of your document; "
            "I will ask for the date of birth next."
        ),
        "not_a_number": t.gettext(
            "Please choose one of the buttons, or type the number of your identity card, ARC, "
            "passport or company registration."
        ),
        "too_long": t.gettext(
            "That message is too long. Please send only what I asked for."
        ),
        "not_text": t.gettext("Please answer with a text message."),
        "bad_choice": t.gettext("Please choose one of the buttons."),
    }
    return problems.get(problem or "", t.gettext("I could not read that answer."))


def verification(
    t: Translator, reply: VerificationReply, *, id_type: str | None = None, via: str = "text"
) -> Reply:
    """Render a verification reply. `via` is how the input came: text, button, contact, link."""
    rendered = _verification(t, reply, id_type=id_type, via=via)
    if reply.signin_url is None:
        return rendered
    # CY Login first: the quickest way, and the one that guessing cannot lock.
    button = keyboards.signin_button(t, reply.signin_url)
    if isinstance(rendered.markup, InlineKeyboardMarkup):
        rows = [[button], *(list(row) for row in rendered.markup.inline_keyboard)]
        return Reply(rendered.text, InlineKeyboardMarkup(rows))
    if rendered.markup is None:
        return Reply(rendered.text, InlineKeyboardMarkup([[button]]))
    return rendered


def _verification(
    t: Translator, reply: VerificationReply, *, id_type: str | None, via: str
) -> Reply:
    from debtbot.services.verify_identity import Outcome, Step

    outcome = reply.outcome
    id_type = id_type or reply.id_type
    follow_up = (
        ask(t, reply.step, id_type=id_type, choices=reply.choices) if reply.step else None
    )

    def with_follow_up(first: str) -> Reply:
        if follow_up is None:
            return Reply(first, ReplyKeyboardRemove() if via == "contact" else None)
        return Reply(f"{first}\n\n{follow_up.text}", follow_up.markup)

    if outcome == Outcome.ASK:
        restart = t.gettext("We were in the middle of confirming who you are. Let us start again.")
        if reply.step == Step.CHOOSE_HOLDER and reply.signin_url and follow_up is not None:
            text = t.gettext(
                "First I need to confirm who you are. The quickest way is to sign in with "
                "CY Login, the government's sign-in. Or tell me whether you are asking for "
                "yourself or for a company you represent."
            )
            return Reply(f"{restart}\n\n{text}" if reply.restarted else text, follow_up.markup)
        if reply.restarted and follow_up is not None:
            return Reply(
                restart + "\n\n" + follow_up.text,
                follow_up.markup,
            )
        return follow_up or Reply(t.gettext("Please answer the question above."))
    if outcome == Outcome.INVALID_INPUT:
        return with_follow_up(problem_text(t, reply.problem))
    if outcome == Outcome.VERIFIED:
        text = t.gettext(
            "Thank you. This chat is now linked to <b>%(name)s</b>.\n\n"
            "Send /debts to see what is outstanding."
        ) % {"name": esc(reply.display_name or "")}
        if via == "contact":
            return Reply(text, ReplyKeyboardRemove())
        return Reply(text, InlineKeyboardMarkup([[keyboards.show_debts_button(t)]]))
    if outcome == Outcome.NOT_MATCHED and reply.step == Step.CONTACT:
        # One answer for an unknown number, a wrong date and a phone that does not match:
        # which it was must not show (nor whether a phone is on file at all).
        advice = t.gettext(
            "I could not confirm who you are with these details, so nothing was linked. "
            "Please check that:\n"
            "• the number is exactly as on your document;\n"
            "• the date of birth is the one on your document;\n"
            "• you share the phone number of this Telegram account. If the authorities "
            "hold a phone number for you, it has to be that one: it is the number you gave "
            "the authority that wrote to you, and only that authority can change it (ask "
            "it, at its counters or on its website)."
        )
        if reply.cy_login:
            way_on = t.gettext(
                "Press the button below to share your number again, or send /start to type "
                "your details again or to sign in with CY Login."
            )
        else:
            way_on = t.gettext(
                "Press the button below to share your number again, or send /start to type "
                "your details again."
            )
        return Reply(f"{advice}\n\n{way_on}", keyboards.contact_keyboard(t))
    if outcome == Outcome.NOT_MATCHED:
        return with_follow_up(
            t.gettext(
                "The details you gave do not match the records we hold. "
                "Please check them and try again."
            )
        )
    if outcome == Outcome.LOCKED and reply.signin_url:
        if reply.locked_until is not None:
            text = t.gettext(
                "For your security, confirming who you are with a number and a date of birth "
                "is paused after too many unsuccessful attempts, until %(time)s. You can still "
                "sign in with CY Login now: press the button below."
            ) % {"time": _datetime(t, reply.locked_until)}
        else:
            text = t.gettext(
                "For your security, confirming who you are with a number and a date of birth "
                "is paused after too many unsuccessful attempts. You can still sign in with "
                "CY Login now: press the button below."
            )
        return Reply(text, None)
    if outcome == Outcome.LOCKED:
        if reply.locked_until is not None:
            text = t.gettext(
                "For your security, verification is paused after too many unsuccessful "
                "attempts. You can try again after %(time)s."
            ) % {"time": _datetime(t, reply.locked_until)}
        else:
            text = t.gettext(
                "For your security, verification is paused after too many unsuccessful "
                "attempts. Please try again tomorrow."
            )
        return Reply(text, ReplyKeyboardRemove() if via == "contact" else None)
    if outcome == Outcome.TOO_MANY_IDENTITIES:
        return Reply(
            t.gettext(
                "This chat is already linked to the largest number of people and companies "
                "allowed. Send /forget to unlink them all and start again."
            )
        )
    if outcome == Outcome.CONTACT_NOT_OWN:
        return Reply(
            t.gettext(
                "That is someone else's contact. Please share your own phone number with the "
                "button below."
            ),
            keyboards.contact_keyboard(t),
        )
    if outcome == Outcome.ALREADY_LINKED:
        return Reply(
            t.gettext(
                "This person or company is already linked to this chat. "
                "Send /debts to see what is outstanding."
            ),
            ReplyKeyboardRemove() if via == "contact" else None,
        )
    if outcome == Outcome.TOKEN_INVALID:
        return Reply(token_invalid(t))
    # NO_DIALOGUE: nothing was asked, so the input answers nothing.
    if via == "button":
        return Reply(stale_button(t))
    if via == "contact":
        return Reply(
            t.gettext("I did not ask for a phone number. Send /start to confirm who you are."),
            ReplyKeyboardRemove(),
        )
    return Reply(not_understood(t))


def token_invalid(t: Translator) -> str:
    return t.gettext(
        "This link has expired or has already been used. "
        "Send /start to confirm who you are here."
    )


def cancelled(t: Translator) -> str:
    return t.gettext("Cancelled. Send /start whenever you want to try again.")


def cancel_reply(t: Translator, reply: VerificationReply) -> Reply:
    """/cancel: what was left, or that nothing was under way."""
    from debtbot.services.verify_identity import Step

    if reply.step is None:
        return Reply(t.gettext("There is nothing to cancel."))
    return Reply(cancelled(t), ReplyKeyboardRemove() if reply.step == Step.CONTACT else None)


# --- debts -------------------------------------------------------------------------------


def nothing_outstanding(t: Translator) -> str:
    return t.gettext(
        "Good news: there is nothing outstanding in the records linked to this chat. "
        "No fines, warrants, taxes or customs debts to pay."
    )


def page_count(report: DebtReport) -> int:
    return max(1, math.ceil(len(report.lines) / PAGE_SIZE))


def debts_page(t: Translator, report: DebtReport, page: int) -> Reply:
    """One page of the debts report: header with totals, the debts, Pay and paging buttons."""
    if not report.lines:
        return Reply(nothing_outstanding(t))
    pages = page_count(report)
    page = min(max(page, 1), pages)
    lines = report.lines[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    holders = {line.holder_name for line in report.lines}
    count = len(report.lines)
    parts = [
        t.ngettext(
            "You have <b>%(n)d</b> outstanding debt.",
            "You have <b>%(n)d</b> outstanding debts.",
            count,
        )
        % {"n": count},
    ]
    # Prosecuted fines are not in the totals: a court now decides what is owed.
    if report.total_due:
        parts.append(
            t.gettext("Total due now: <b>%(amount)s</b>")
            % {"amount": _money(t, report.total_due)}
        )
    if report.total_due and report.total_payable_now != report.total_due:
        parts.append(
            t.gettext("Of which can be paid online now: %(amount)s")
            % {"amount": _money(t, report.total_payable_now)}
        )
    if pages > 1:
        parts.append(t.gettext("Page %(page)d of %(pages)d") % {"page": page, "pages": pages})
    header = "\n".join(parts)
    blocks = [
        debt_block(t, line, number=(page - 1) * PAGE_SIZE + index + 1, show_holder=len(holders) > 1)
        for index, line in enumerate(lines)
    ]
    text = "\n\n".join([header, *blocks])
    rows = []
    for line in lines:
        row = [details_button(t, line)]
        if (button := pay_button(t, line)) is not None:
            row.insert(0, button)
        rows.append(row)
    navigation = []
    if page > 1:
        navigation.append(
            InlineKeyboardButton(
                t.pgettext("button", "◀ Previous"), callback_data=keyboards.debts_page_data(page - 1)
            )
        )
    if page < pages:
        navigation.append(
            InlineKeyboardButton(
                t.pgettext("button", "Next ▶"), callback_data=keyboards.debts_page_data(page + 1)
            )
        )
    rows.append(navigation)
    return Reply(_fit(text), keyboards.inline(rows))


def single_debt(t: Translator, line: DebtLine) -> Reply:
    """The detail view of one debt (one tap from /debts, and the reveal of reminders)."""
    return debt_detail(t, line)


def pay_button(t: Translator, line: DebtLine) -> InlineKeyboardButton | None:
    if not line.pay_url or not line.pay_url_allowed:
        return None
    label = t.pgettext("button", "Pay %(amount)s · %(reference)s") % {
        "amount": _money(t, line.due.total),
        "reference": line.reference[:24],
    }
    return InlineKeyboardButton(label, url=line.pay_url)


def details_button(t: Translator, line: DebtLine) -> InlineKeyboardButton:
    label = t.pgettext("button", "Details · %(reference)s") % {"reference": line.reference[:24]}
    return InlineKeyboardButton(label, callback_data=keyboards.debt_show_data(line.debt_id))


def day_text(t: Translator, day: date, today: date | None) -> str:
    """A date as a person says it: "today, 23 November 2026", "tomorrow, …", or the date."""
    if today is not None and day == today:
        return t.gettext("today, %(date)s") % {"date": _date(t, day)}
    if today is not None and day.toordinal() == today.toordinal() + 1:
        return t.gettext("tomorrow, %(date)s") % {"date": _date(t, day)}
    return _date(t, day)


def basis_text(t: Translator, basis: Basis) -> str:
    return t.gettext("(legal basis: %(basis)s)") % {"basis": _text(legal_basis(t, basis))}


def authority_text(t: Translator, authority: str) -> str:
    return esc(authority_name(t, authority))


def _headline_milestone(line: DebtLine) -> Milestone | None:
    # /debts names the next deadline that costs money or ends a way to pay; the detail view
    # lists every one (naming the driver, representations, payment opening).
    today_milestone = line.next_milestone
    if today_milestone is None:
        return None
    for milestone in line.milestones:
        if milestone.takes_effect < today_milestone.takes_effect:
            continue
        if str(milestone.kind) not in _SIDE_MILESTONES:
            return milestone
    return None


_SIDE_MILESTONES = frozenset({"payable_from", "driver_nomination", "representations"})


def _amount_rows(t: Translator, line: DebtLine) -> list[str]:
    due = line.due
    rows: list[str] = []
    interest = due.interest
    if due.surcharge or interest:
        rows.append(t.gettext("Amount on the notice: %(amount)s") % {"amount": _money(t, due.base)})
    if due.surcharge:
        surcharge = t.gettext("Surcharge: %(amount)s") % {"amount": _money(t, due.surcharge)}
        if due.surcharge_basis:
            surcharge += " " + basis_text(t, due.surcharge_basis)
        rows.append(surcharge)
    if interest:
        interest_text = t.gettext("Interest: %(amount)s") % {"amount": _money(t, interest)}
        if due.interest_basis:
            interest_text += " " + basis_text(t, due.interest_basis)
        rows.append(interest_text)
    rows.append(t.gettext("Due now: <b>%(amount)s</b>") % {"amount": _money(t, due.total)})
    if due.payable_from is not None and not due.payable and not line.no_clock:
        opens = local_date(due.payable_from)
        rows.append(
            t.gettext("It can be paid online from %(date)s.")
            % {"date": day_text(t, opens, line.today)}
        )
    return rows


def _prosecuted_rows(t: Translator, line: DebtLine) -> list[str]:
    return [
        t.gettext("Amount on the notice: %(amount)s") % {"amount": _money(t, line.due.base)},
        "⚠️ "
        + t.gettext(
            "This fine was not paid within the out-of-court period, so it can no longer "
            "be paid out of court or online: the case has gone for criminal prosecution. "
            "Contact your nearest police station to find out how to settle it; you may be "
            "summoned to court."
        ),
    ]


def _no_clock_text(t: Translator, line: DebtLine) -> str:
    if str(line.kind) == "tax":
        return t.gettext(
            "The registry has not recorded the date this tax became payable, so I cannot "
            "tell you its deadlines."
        )
    if str(line.kind) == "out_of_court_fine":
        return t.gettext(
            "The registry has not recorded when the notice was served on you, so I cannot "
            "tell you its deadlines, nor whether it can be paid yet or costs more."
        )
    return t.gettext(
        "The registry has not recorded when the notice was served on you, so I cannot "
        "tell you its deadlines."
    )


def _consequence(t: Translator, line: DebtLine, milestone: Milestone) -> str:
    return deadline_consequence(
        t, str(line.kind), str(milestone.kind), surcharged=milestone.amount_after is not None
    )


def _title(t: Translator, line: DebtLine, number: int | None) -> list[str]:
    title = f"<b>{esc(kind_label(t, line.kind))}</b>"
    if number is not None:
        title = f"<b>{number}.</b> {title}"
    rows = [title, t.gettext("Reference: <code>%(reference)s</code>") % {"reference": esc(line.reference)}]
    if line.authority:
        rows.append(t.gettext("Issued by: %(authority)s") % {"authority": authority_text(t, line.authority)})
    return rows


def debt_block(t: Translator, line: DebtLine, *, number: int | None, show_holder: bool) -> str:
    """One debt in /debts: the amount now, the next deadline and what really happens then."""
    due = line.due
    rows = _title(t, line, number)
    if show_holder and line.holder_name:
        rows.append(t.gettext("In the name of: %(name)s") % {"name": esc(line.holder_name)})
    if due.prosecution:
        return "\n".join(rows + _prosecuted_rows(t, line))
    rows += _amount_rows(t, line)
    if str(line.kind) == "fine_warrant":
        rows.append(
            t.gettext(
                "A court has issued a warrant for this fine. You can pay it online or at your "
                "nearest police station, which can also give you the details."
            )
        )
    if line.no_clock:
        rows.append(_no_clock_text(t, line))
        return "\n".join(rows)
    milestone = _headline_milestone(line)
    if milestone is not None:
        rows.append(
            "⏳ "
            + t.gettext("Next deadline: <b>%(date)s</b> (%(title)s). After that day: %(consequence)s")
            % {
                "date": day_text(t, milestone.last_day, line.today),
                "title": _text(milestone_title(t, str(milestone.kind))),
                "consequence": _text(_consequence(t, line, milestone)),
            }
        )
        if milestone.amount_after is not None and milestone.amount_after != due.total:
            rows.append(
                t.gettext("From the next day the amount is %(amount)s.")
                % {"amount": _money(t, milestone.amount_after)}
            )
    return "\n".join(rows)


def debt_detail(t: Translator, line: DebtLine) -> Reply:
    """Everything about one debt: service date, every deadline past and ahead with what
    happens then, the amount now and after the next deadline, penalty points, how to object,
    and where to go in person."""
    due = line.due
    debt = line.debt
    kind = str(line.kind)
    rows = _title(t, line, None)
    if line.holder_name:
        rows.append(t.gettext("In the name of: %(name)s") % {"name": esc(line.holder_name)})
    if kind == "tax" and debt is not None and debt.due_on is not None:
        rows.append(t.gettext("Payable since: %(date)s") % {"date": _date(t, debt.due_on)})
    elif line.served_on is not None:
        rows.append(t.gettext("Date of service: %(date)s") % {"date": _date(t, line.served_on)})
    sections = ["\n".join(rows)]
    if due.prosecution:
        sections.append("\n".join(_prosecuted_rows(t, line)))
    else:
        amounts = _amount_rows(t, line)
        upcoming = _headline_milestone(line)
        if (upcoming is not None and upcoming.amount_after is not None
                and upcoming.amount_after != due.total):
            amounts.append(
                t.gettext("From %(date)s: %(amount)s")
                % {"date": day_text(t, local_date(upcoming.takes_effect), line.today),
                   "amount": _money(t, upcoming.amount_after)}
            )
        sections.append("\n".join(amounts))
    if line.no_clock:
        sections.append(_no_clock_text(t, line))
    elif line.milestones:
        deadlines = ["<b>" + _text(t.gettext("Deadlines")) + "</b>"]
        now_index = line.next_milestone
        for milestone in line.milestones:
            passed = now_index is None or milestone.takes_effect < now_index.takes_effect
            values = {
                "date": day_text(t, milestone.last_day, line.today),
                "title": _text(milestone_title(t, str(milestone.kind))),
                "consequence": _text(_consequence(t, line, milestone)),
            }
            if str(milestone.kind) == "payable_from":
                text = (t.gettext("%(date)s: payment opened.") if passed
                        else t.gettext("%(date)s: payment opens.")) % {
                    "date": day_text(t, milestone.last_day, line.today)}
            elif passed:
                text = t.gettext("%(date)s, %(title)s (passed). After that day: %(consequence)s") % values
            else:
                text = t.gettext("%(date)s, %(title)s. After that day: %(consequence)s") % values
            if milestone.amount_after is not None:
                text += " " + t.gettext("From the next day the amount is %(amount)s.") % {
                    "amount": _money(t, milestone.amount_after)}
            text += " " + basis_text(t, milestone.legal_basis)
            deadlines.append(("✓ " if passed else "⏳ ") + text)
        sections.append("\n".join(deadlines))
    elif kind == "fine_warrant":
        sections.append(
            t.gettext(
                "A court has issued a warrant for this fine. You can pay it online or at your "
                "nearest police station, which can also give you the details."
            )
        )
    if kind == "out_of_court_fine":
        sections.append(
            "<b>" + _text(t.gettext("Penalty points")) + "</b>\n"
            + _text(penalty_points(t, debt.points if debt else None)) + " "
            + basis_text(t, regulations_note("6", "8"))
        )
    objection = how_to_object(t, kind)
    if objection:
        text = "<b>" + _text(t.gettext("To object or dispute")) + "</b>\n" + _text(objection)
        for basis in objection_bases(kind):
            text += " " + basis_text(t, basis)
        sections.append(text)
    place = _in_person(t, line)
    if place:
        sections.append(place)
    rows_markup: list[list[InlineKeyboardButton]] = []
    button = pay_button(t, line)
    if button is not None:
        rows_markup.append([button])
    if not line.no_clock and any(
        line.next_milestone is not None and m.takes_effect >= line.next_milestone.takes_effect
        for m in line.milestones
    ):
        rows_markup.append([InlineKeyboardButton(
            t.pgettext("button", "Add the deadlines to my calendar"),
            callback_data=keyboards.debt_calendar_data(line.debt_id),
        )])
    rows_markup.append([InlineKeyboardButton(
        t.pgettext("button", "◀ All my debts"), callback_data=keyboards.debts_page_data(1)
    )])
    return Reply(_fit("\n\n".join(sections)), keyboards.inline(rows_markup))


def _in_person(t: Translator, line: DebtLine) -> str:
    kind = str(line.kind)
    # Warrants are executed by the police; admin fines are paid at the Road Transport
    # Department's district offices (art. 23A(6)).
    if kind == "fine_warrant":
        found = authorities.police()
    elif kind == "admin_fine":
        found = authorities.find(line.authority) or authorities.by_code("rtd")
    else:
        found = authorities.find(line.authority)
    if found is None or not (found.offices or found.phone or found.website):
        return ""
    rows = ["<b>" + _text(t.gettext("Where to go in person")) + "</b>", esc(found.name(t.language))]
    for office in found.offices:
        rows.append(
            "• " + esc(office.place.get(t.language, office.place.get("en", "")))
            + (" — " + esc(office.address.get(t.language, office.address.get("en", "")))
               if office.address else "")
            + " (" + _text(opening_hours(t, office.hours)) + ")"
        )
    if found.phone:
        rows.append(t.gettext("Telephone: %(phone)s") % {"phone": esc(found.phone)})
    if found.website:
        rows.append(esc(found.website))
    return "\n".join(rows)


def no_calendar(t: Translator, refusal: str) -> str:
    """Why no calendar file is sent (a paid or cancelled debt, no deadline ahead)."""
    if refusal == "closed":
        return t.gettext(
            "This debt is no longer outstanding, so there are no deadlines to add to a calendar."
        )
    if refusal == "no_deadlines":
        return t.gettext("This debt has no deadline ahead to add to a calendar.")
    return stale_button(t)


def calendar_caption(t: Translator, line: DebtLine) -> str:
    return t.gettext(
        "The deadlines of %(reference)s: open the file to add them to your calendar. "
        "It reminds you the day before each."
    ) % {"reference": esc(line.reference)}


def discreet_teaser(t: Translator, callback_data: str) -> Reply:
    """What a discreet chat sees first: no amounts, no kinds, just that there is news."""
    return Reply(
        t.gettext("There is news for you. Press the button to see the details here."),
        keyboards.reveal_keyboard(t, callback_data),
    )


def _fit(text: str) -> str:
    # Fields are already cut to _FIELD_LIMIT, so this is a last guard, never the usual path.
    if len(text) <= MAX_MESSAGE:
        return text
    return text[: MAX_MESSAGE - 1].rsplit("\n", 1)[0] + "\n…"
