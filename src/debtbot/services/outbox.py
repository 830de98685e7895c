"""When a message in the outbox may go out: quiet hours, and what cannot wait for them.

Every outgoing message is a row planned once under a unique key (DESIGN.md): whoever calls
`uow.outbox.enqueue` twice with one key gets one message (store.outbox; the payload is
checked by domain.messages). It is written in the unit of work of the change that causes it
(a payment and its receipt, a notice and its audit entry): both happen or neither does.
The one sender (services.deliver_outbox) drains the table with pacing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def quiet_until(
    moment: datetime, *, start: time, end: time, tz: ZoneInfo
) -> datetime | None:
    """If `moment` falls in quiet hours (local time, [start, end), possibly across midnight),
    the instant they end; else None.
    """
    local = moment.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:  # e.g. 13:00-15:00, within one day
        quiet = start <= clock < end
        end_day = local.date()
    else:  # e.g. 21:00-09:00, across midnight
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(moment.tzinfo)


def delivery_time(
    remind_at: datetime, *, deadline: datetime | None, start: time, end: time, tz: ZoneInfo
) -> datetime:
    """When a message due at `remind_at` may go out: at the end of quiet hours if it falls in
    them, unless waiting would pass its deadline (then at once).
    """
    ends = quiet_until(remind_at, start=start, end=end, tz=tz)
    if ends is None:
        return remind_at
    if deadline is not None and ends >= deadline:
        return remind_at
    return ends
