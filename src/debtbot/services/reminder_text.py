"""A reminder as the citizen reads it, in the chat's language: what the debt is, the amount
now, the amount after the threshold, the date and what happens then, and the Pay button.

Discreet chats get a message that names neither the kind of debt nor an amount (a locked
phone shows the first lines), with a button that reveals the details in the chat.
Rendered once, when the reminder is planned; the outbox row carries the finished payload.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from debtbot import texts
from debtbot.domain.calendar import local_date
from debtbot.domain.debts import Debt
from debtbot.domain.milestones import Milestone
from debtbot.domain.registry_dates import registry_amount_due as amount_due
from debtbot.domain.rules import Rulebook
from debtbot.i18n import Translator


def _esc(value: str) -> str:
    return html.escape(value, quote=False)


# Babel's formatting is the costly step of rendering; a sweep repeats a few amounts and dates.
@lru_cache(maxsize=8192)
def _money(t: Translator, amount: Decimal) -> str:
    return t.money(amount)


@lru_cache(maxsize=4096)
def _date(t: Translator, day: date) -> str:
    return t.date(day)


def _days_left(t: Translator, last_day: date, today: date) -> str:
    n = (last_day - today).days
    if n <= 0:
        return t.gettext("The last day is today, %(date)s.") % {"date": _esc(_date(t, last_day))}
    if n == 1:
        return t.gettext("The last day is tomorrow, %(date)s.") % {"date": _esc(_date(t, last_day))}
    return t.ngettext(
        "The last day is %(date)s, in %(n)d day.",
        "The last day is %(date)s, in %(n)d days.",
        n,
    ) % {"date": _esc(_date(t, last_day)), "n": n}


def _basis(t: Translator, milestone: Milestone) -> str:
    return t.gettext("(legal basis: %(basis)s)") % {
        "basis": _esc(texts.legal_basis(t, milestone.legal_basis))
    }


def _footer(t: Translator) -> str:
    return "<i>" + t.gettext(
        "A courtesy reminder: the official dates are the registry's. "
        "To turn reminders off or pause them: /reminders"
    ) + "</i>"


def _discreet(t: Translator, *, debt_id: int, day: date) -> dict[str, Any]:
    text = t.gettext(
        "Reminder: a deadline is coming up on %(date)s. Press the button to see the details "
        "here."
    ) % {"date": _esc(_date(t, day))}
    button = {"text": t.pgettext("button", "Show details"), "callback_data": f"debt:show:{debt_id}"}
    return {"text": text, "buttons": [[button]], "disable_notification": False}


def _pay_button(t: Translator, pay_url: str | None, amount: str) -> list[list[dict[str, str]]]:
    if not pay_url:
        return []
    return [[{"text": t.pgettext("button", "Pay %(amount)s") % {"amount": amount},
              "url": pay_url}]]


def render_milestone_reminder(
    t: Translator,
    *,
    debt_id: int,
    debt: Debt,
    milestone: Milestone,
    now: datetime,
    pay_url: str | None,
    discreet: bool,
    rulebook: Rulebook,
) -> dict[str, Any]:
    """The payload of a reminder before `milestone` (see domain.messages for its shape)."""
    if discreet:
        return _discreet(t, debt_id=debt_id, day=milestone.last_day)
    due = amount_due(debt, now, rulebook=rulebook)
    today = local_date(now, t.timezone)
    lines = [
        "⏰ " + t.gettext("<b>Reminder</b>: %(kind)s %(reference)s")
        % {"kind": _esc(texts.kind_label(t, str(debt.kind))), "reference": _esc(debt.reference)},
        t.gettext("Due now: <b>%(amount)s</b>") % {"amount": _esc(_money(t, due.total))},
        _days_left(t, milestone.last_day, today),
        t.gettext("After that day: %(consequence)s")
        % {"consequence": _esc(texts.deadline_consequence(
            t, str(debt.kind), str(milestone.kind),
            surcharged=milestone.amount_after is not None,
        ))},
    ]
    if milestone.amount_after is not None and milestone.amount_after != due.total:
        lines.append(
            t.gettext("From the next day the amount is %(amount)s.")
            % {"amount": _esc(_money(t, milestone.amount_after))}
            + " "
            + _basis(t, milestone)
        )
    else:
        lines.append(_basis(t, milestone))
    lines.append(_footer(t))
    payable = due.payable and not due.prosecution
    buttons = _pay_button(t, pay_url if payable else None, _money(t, due.total))
    return {"text": "\n".join(lines), "buttons": buttons, "disable_notification": False}


def render_warrant_reminder(
    t: Translator,
    *,
    debt_id: int,
    debt: Debt,
    now: datetime,
    pay_url: str | None,
    discreet: bool,
    rulebook: Rulebook,
) -> dict[str, Any]:
    """The periodic reminder of a fine warrant (no statutory countdown)."""
    if discreet:
        text = t.gettext(
            "Reminder: there is something for you to settle. Press the button to see the "
            "details here."
        )
        button = {"text": t.pgettext("button", "Show details"),
                  "callback_data": f"debt:show:{debt_id}"}
        return {"text": text, "buttons": [[button]], "disable_notification": False}
    due = amount_due(debt, now, rulebook=rulebook)
    lines = [
        "⏰ " + t.gettext("<b>Reminder</b>: %(kind)s %(reference)s")
        % {"kind": _esc(texts.kind_label(t, str(debt.kind))), "reference": _esc(debt.reference)},
        t.gettext("Due now: <b>%(amount)s</b>") % {"amount": _esc(_money(t, due.total))},
        t.gettext(
            "A court has issued a warrant for this fine. You can pay it online or at your "
            "nearest police station, which can also give you the details."
        ),
        _footer(t),
    ]
    buttons = _pay_button(t, pay_url, _money(t, due.total))
    return {"text": "\n".join(lines), "buttons": buttons, "disable_notification": False}
