"""News of a debt as the citizen reads it, in the chat's language (issue #16): a new debt, a
corrected amount, a date of service recorded or moved, a debt closed by the registry, and a
threshold passed today. The same words as /debts and the reminders wherever they say the
same thing (so the catalogs hold each sentence once).

Discreet chats get a message that names neither the kind of debt nor an amount (a locked
phone shows the first lines), with a button that shows the details in the chat.
Rendered once, when the news is planned; the outbox row carries the finished payload.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from debtbot import texts
from debtbot.domain.calendar import local_date
from debtbot.domain.debts import Debt, DebtStatus
from debtbot.domain.milestones import Milestone, MilestoneKind, milestones
from debtbot.domain.registry_dates import registry_amount_due as amount_due
from debtbot.domain.registry_dates import registry_next_milestone as next_milestone
from debtbot.domain.rules import Rulebook
from debtbot.i18n import Translator
from debtbot.services.reminder_text import _date, _esc

_CENT = Decimal("0.01")


@lru_cache(maxsize=16)
def _money_shape(t: Translator) -> tuple[str, str, str, str]:
    """(prefix, suffix, group separator, decimal separator) of the locale's euro amounts, read
    off Babel's own rendering of one amount."""
    sample = t.money(Decimal("1234567.89"))
    first, last = sample.index("1"), sample.rindex("9")
    body = sample[first : last + 1]  # 1.234.567,89 or 1,234,567.89
    return sample[:first], sample[last + 1 :], body[1], body[-3]


def _money(t: Translator, amount: Decimal) -> str:
    """t.money(amount), as Babel writes it, without Babel's cost for each new amount: an
    import tells of thousands of debts, nearly every one with an amount of its own."""
    prefix, suffix, group, point = _money_shape(t)
    whole, cents = f"{abs(amount.quantize(_CENT)):.2f}".split(".")
    if len(whole) > 3:
        whole = f"{int(whole):,}".replace(",", group)
    sign = "-" if amount < 0 else ""
    return f"{sign}{prefix}{whole}{point}{cents}{suffix}"


_SERVED_KINDS = frozenset({"out_of_court_fine", "admin_fine", "fine_warrant", "customs"})


def _footer(t: Translator) -> str:
    return "<i>" + t.gettext(
        "The official dates and amounts are the registry's. News of your debts on or off: "
        "/reminders"
    ) + "</i>"


def _title(t: Translator, emoji: str, heading: str, debt: Debt) -> str:
    kind = _esc(texts.kind_label(t, str(debt.kind)))
    return f"{emoji} <b>{_esc(heading)}</b>: {kind} <code>{_esc(debt.reference)}</code>"


def _teaser(t: Translator, debt_id: int) -> dict[str, Any]:
    button = {"text": t.pgettext("button", "Show details"), "callback_data": f"debt:show:{debt_id}"}
    return {
        "text": t.gettext("There is news for you. Press the button to see the details here."),
        "buttons": [[button]],
        "disable_notification": False,
    }


# An import may tell of tens of thousands of debts: what depends only on the language (and a
# deadline's kind and day) is worked out once; money and dates need no escaping.


@lru_cache(maxsize=8)
def _words(t: Translator) -> dict[str, str]:
    return {
        "due_now": t.gettext("Due now: <b>%(amount)s</b>"),
        "then": t.gettext("From the next day the amount is %(amount)s."),
        "pay": t.pgettext("button", "Pay %(amount)s"),
        "issued_by": t.gettext("Issued by: %(authority)s"),
        "new": "🆕 <b>" + _esc(t.gettext("New debt")) + "</b>: ",
        "footer": _footer(t),
        "prosecution": "⚠️ " + t.gettext(
            "This fine was not paid within the out-of-court period, so it can no longer "
            "be paid out of court or online: the case has gone for criminal prosecution. "
            "Contact your nearest police station to find out how to settle it; you may be "
            "summoned to court."
        ),
        "unserved": t.gettext(
            "The registry has not recorded when the notice was served on you, so I "
            "cannot tell you its deadlines, nor whether it can be paid yet or costs more."
        ),
    }


@lru_cache(maxsize=4096)
def _deadline(t: Translator, kind: str, last_day: date, *, short: bool = False) -> str:
    if short:
        return "⏳ " + t.gettext("Next deadline: <b>%(date)s</b> (%(title)s)") % {
            "date": _date(t, last_day), "title": _esc(texts.milestone_title(t, kind)),
        }
    return "⏳ " + t.gettext(
        "Next deadline: <b>%(date)s</b> (%(title)s). After that day: %(consequence)s"
    ) % {
        "date": _date(t, last_day),
        "title": _esc(texts.milestone_title(t, kind)),
        "consequence": _esc(texts.milestone_consequence(t, kind)),
    }


def _pay(t: Translator, pay_url: str | None, amount: str) -> list[list[dict[str, str]]]:
    if not pay_url:
        return []
    return [[{"text": _words(t)["pay"] % {"amount": amount}, "url": pay_url}]]


def render_discreet_digest(t: Translator) -> dict[str, Any]:
    """Several new debts at once for a discreet chat: one teaser, whose button shows the list
    of debts in the chat (no kind, no amount on the locked phone)."""
    button = {"text": t.pgettext("button", "Show details"), "callback_data": "debts:page:1"}
    return _message(
        [t.gettext("There is news for you. Press the button to see the details here.")],
        [[button]],
    )


def _state(
    t: Translator, debt: Debt, now: datetime, pay_url: str | None, *, rulebook: Rulebook,
    short: bool = False,
) -> tuple[list[str], list[list[dict[str, str]]]]:
    """The amount now, the next deadline and what happens then, and the Pay button: the lines
    /debts shows for the debt (`short`: the deadline's date and name only)."""
    words = _words(t)
    due = amount_due(debt, now, rulebook=rulebook)
    if due.prosecution:
        return [words["prosecution"]], []
    total = _money(t, due.total)
    lines = [words["due_now"] % {"amount": total}]
    if due.payable_from is not None and not due.payable:
        lines.append(
            t.gettext("It can be paid online from %(date)s.")
            % {"date": t.date(local_date(due.payable_from))}
        )
    upcoming = _upcoming(debt, now, rulebook)
    for milestone in upcoming:
        lines.append(_deadline(t, str(milestone.kind), milestone.last_day, short=short))
        if not short and milestone.amount_after is not None and milestone.amount_after != due.total:
            lines.append(words["then"] % {"amount": _money(t, milestone.amount_after)})
    if not upcoming and debt.served_on is None and str(debt.kind) in _SERVED_KINDS:
        lines.append(words["unserved"])
    return lines, _pay(t, pay_url if due.payable else None, total)


def _upcoming(debt: Debt, now: datetime, rulebook: Rulebook) -> list[Milestone]:
    """The next deadline (as /debts shows it) and, when that one is not the kind reminded of
    (naming the driver, say), also the next that is (the surcharge): the one that costs."""
    milestone = next_milestone(debt, now, rulebook=rulebook)
    if milestone is None:
        return []
    found = [] if milestone.kind is MilestoneKind.PAYABLE_FROM else [milestone]
    if not milestone.reminder:
        for later in milestones(debt, rulebook=rulebook):
            if later.takes_effect > milestone.takes_effect and later.reminder:
                found.append(later)
                break
    return found


def _message(lines: list[str], buttons: list[list[dict[str, str]]]) -> dict[str, Any]:
    return {"text": "\n".join(lines), "buttons": buttons, "disable_notification": False}


def render_new_debt(
    t: Translator, *, debt_id: int, debt: Debt, now: datetime, pay_url: str | None,
    discreet: bool, rulebook: Rulebook, compact: bool = False, footer: bool = True,
) -> dict[str, Any]:
    """A debt the registry has just recorded: what, who issued it, the amount now, the next
    deadline and its consequence, the Pay button. `compact` (several new debts for one chat
    at once, which go out as one message): the amount and the deadline's date only."""
    if discreet:
        return _teaser(t, debt_id)
    words = _words(t)
    lines = [
        words["new"] + _esc(texts.kind_label(t, str(debt.kind)))
        + f" <code>{_esc(debt.reference)}</code>"
    ]
    if debt.authority:
        lines.append(words["issued_by"] % {"authority": _esc(debt.authority)})
    state, buttons = _state(t, debt, now, pay_url, rulebook=rulebook, short=compact)
    lines.extend(state)
    if not compact:
        buttons = [*buttons, _more(t, debt_id, debt, now, rulebook)]
    if footer:
        lines.append(words["footer"])
    return _message(lines, buttons)


def _more(
    t: Translator, debt_id: int, debt: Debt, now: datetime, rulebook: Rulebook
) -> list[dict[str, str]]:
    """The detail view and, while a deadline is ahead, the calendar file: the same buttons
    (and callback data, telegram.keyboards) as /debts and the detail view have."""
    row = [{
        "text": t.pgettext("button", "Details · %(reference)s") % {"reference": debt.reference[:24]},
        "callback_data": f"debt:show:{debt_id}",
    }]
    if next_milestone(debt, now, rulebook=rulebook) is not None:
        row.append({
            "text": t.pgettext("button", "Add the deadlines to my calendar"),
            "callback_data": f"debt:ics:{debt_id}",
        })
    return row


def render_amount_corrected(
    t: Translator, *, debt_id: int, debt: Debt, old_amount: Decimal, now: datetime,
    pay_url: str | None, discreet: bool, rulebook: Rulebook,
) -> dict[str, Any]:
    if discreet:
        return _teaser(t, debt_id)
    lines = [
        _title(t, "✏️", t.gettext("Amount corrected"), debt),
        t.gettext("The registry changed the amount from %(old)s to %(new)s.")
        % {"old": _esc(_money(t, old_amount)), "new": _esc(_money(t, debt.amount))},
    ]
    state, buttons = _state(t, debt, now, pay_url, rulebook=rulebook)
    lines.extend(state)
    lines.append(_footer(t))
    return _message(lines, buttons)


def render_service_changed(
    t: Translator, *, debt_id: int, debt: Debt, recorded: bool, now: datetime,
    pay_url: str | None, discreet: bool, rulebook: Rulebook,
) -> dict[str, Any]:
    """The date of service was recorded (the clock starts) or moved (the clock changes)."""
    if discreet:
        return _teaser(t, debt_id)
    served = debt.served_on
    heading = (t.gettext("Date of service recorded") if recorded
               else t.gettext("Date of service changed"))
    lines = [_title(t, "📬", heading, debt)]
    if served is not None:
        lines.append(
            t.gettext("Date of service: %(date)s. The legal deadlines run from that day.")
            % {"date": _esc(_date(t, served))}
        )
    state, buttons = _state(t, debt, now, pay_url, rulebook=rulebook)
    lines.extend(state)
    lines.append(_footer(t))
    return _message(lines, buttons)


def render_closed(
    t: Translator, *, debt: Debt, status: DebtStatus, discreet: bool
) -> dict[str, Any]:
    """Paid (as the registry confirms), cancelled or withdrawn: said plainly."""
    if discreet:
        if status is DebtStatus.PAID:
            text = t.gettext("The registry confirms a payment: one of your debts is settled.")
        else:
            text = t.gettext(
                "Good news: one of your debts has been cancelled or withdrawn. Nothing is due "
                "for it."
            )
        return _message([text], [])
    if status is DebtStatus.PAID:
        lines = [
            _title(t, "✅", t.gettext("Paid"), debt),
            t.gettext("The registry confirms that this debt is paid. Nothing more is due for it."),
        ]
    elif status is DebtStatus.WITHDRAWN:
        lines = [
            _title(t, "✅", t.gettext("Good news"), debt),
            t.gettext("The registry has withdrawn this debt. You owe nothing for it."),
        ]
    else:
        lines = [
            _title(t, "✅", t.gettext("Good news"), debt),
            t.gettext("The registry has cancelled this debt. You owe nothing for it."),
        ]
    lines.append(_footer(t))
    return _message(lines, [])


def render_threshold(
    t: Translator, *, debt_id: int, debt: Debt, milestone: Milestone, now: datetime,
    late: bool, pay_url: str | None, discreet: bool, rulebook: Rulebook,
) -> dict[str, Any]:
    """A consequence took effect today (or, `late`, on an earlier day while the bot was
    down): what changed and what can still be done."""
    if discreet:
        return _teaser(t, debt_id)
    lines = [
        _title(t, "⚠️", texts.milestone_title(t, str(milestone.kind)), debt),
        t.gettext("From %(date)s: %(consequence)s") % {
            "date": _esc(_date(t, local_date(milestone.takes_effect, t.timezone))),
            "consequence": _esc(texts.milestone_consequence(t, str(milestone.kind))),
        },
    ]
    if late:
        lines.append("<i>" + t.gettext(
            "We could not tell you on the day: this took effect on %(date)s."
        ) % {"date": _esc(_date(t, local_date(milestone.takes_effect, t.timezone)))} + "</i>")
    state, buttons = _state(t, debt, now, pay_url, rulebook=rulebook)
    lines.extend(state)
    if buttons:
        lines.append(t.gettext("You can still pay it online: press the button."))
    elif not amount_due(debt, now, rulebook=rulebook).prosecution:
        lines.append(t.gettext(
            "To settle it, contact the authority that issued it; /debts shows what you owe now."
        ))
    lines.append(_footer(t))
    return _message(lines, buttons)
