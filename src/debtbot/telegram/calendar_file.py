"""A debt's deadlines as an iCalendar file (RFC 5545): one event per deadline still ahead,
on its last day at 09:00 Europe/Nicosia, with an alarm the day before, in the chat's language.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from icalendar import Alarm, Calendar, Event

from debtbot.i18n import NICOSIA, Translator
from debtbot.services.show_debts import DebtLine, upcoming_milestones
from debtbot.texts import (
    authority_name,
    deadline_consequence,
    kind_label,
    legal_basis,
    milestone_title,
)

# The deadline is the end of the last day; the event sits in office hours of that day, when
# there is still time to act.
EVENT_AT = time(9, 0)
EVENT_LENGTH = timedelta(minutes=30)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def filename(line: DebtLine) -> str:
    return f"deadlines-{_UNSAFE.sub('-', line.reference)[:40]}.ics"


def calendar_file(t: Translator, line: DebtLine, *, now: datetime) -> bytes:
    """The .ics of `line`'s upcoming deadlines."""
    calendar = Calendar()
    calendar.add("prodid", "-//debtbot//deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-timezone", str(NICOSIA))
    kind = kind_label(t, line.kind)
    for milestone in upcoming_milestones(line):
        title = milestone_title(t, str(milestone.kind))
        consequence = deadline_consequence(
            t, str(line.kind), str(milestone.kind),
            surcharged=milestone.amount_after is not None,
        )
        start = datetime.combine(milestone.last_day, EVENT_AT, tzinfo=NICOSIA)
        summary = t.gettext("%(title)s: %(kind)s %(reference)s") % {
            "title": title, "kind": kind, "reference": line.reference,
        }
        lines = [
            t.gettext("After that day: %(consequence)s") % {"consequence": consequence},
        ]
        if milestone.amount_after is not None:
            lines.append(
                t.gettext("From the next day the amount is %(amount)s.")
                % {"amount": t.money(milestone.amount_after)}
            )
        lines.append(
            t.gettext("(legal basis: %(basis)s)") % {"basis": legal_basis(t, milestone.legal_basis)}
        )
        if line.authority:
            lines.append(
                t.gettext("Issued by: %(authority)s")
                % {"authority": authority_name(t, line.authority)}
            )
        event = Event()
        event.add("uid", f"debt-{line.debt_id}-{milestone.kind}-{milestone.last_day}@debtbot")
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", start + EVENT_LENGTH)
        event.add("summary", summary)
        event.add("description", "\n".join(lines))
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
