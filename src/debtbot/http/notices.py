"""Notices to one person from staff systems (scope `notices`): preview, then send.

The recipient is named one way: id_type + id_number, or a debt reference (+ source), or a
chat id. The template is a stored one's name or given inline (el required, en/tr optional;
a missing language falls back to Greek and the answer says so).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, WithJsonSchema

from debtbot.http.base import (
    STAFF_ERRORS,
    ApiError,
    Body,
    Call,
    Key,
    Operation,
    Reply,
    staff_error,
)
from debtbot.services import broadcasts, notices
from debtbot.services.staff import Actor, Role, StaffError

MAX_CHAT_ID = 2**53
_PRINTABLE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

TemplateName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
TemplateBody = Annotated[str, StringConstraints(min_length=1, max_length=3500, pattern=_PRINTABLE_TEXT)]
_VALUE_NAME = r"^[a-z][a-z0-9_]*$"
ValueName = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_VALUE_NAME)]
Value = Annotated[str, StringConstraints(max_length=500, pattern=_PRINTABLE_TEXT)]
Values = Annotated[
    dict[ValueName, Value],
    Field(max_length=20),
    WithJsonSchema({
        "type": "object",
        "maxProperties": 20,
        "propertyNames": {"minLength": 1, "maxLength": 32, "pattern": _VALUE_NAME},
        "additionalProperties": {"type": "string", "maxLength": 500, "pattern": _PRINTABLE_TEXT},
    }),
]


class Recipient(Body):
    """Exactly one of: id_type + id_number; reference (+ source); chat_id."""

    id_type: Literal["id_card", "arc", "passport", "company_reg"] | None = None
    id_number: Annotated[str, StringConstraints(min_length=1, max_length=32,
                                                pattern=r"^[^\x00-\x1f\x7f]*$")] | None = None
    reference: Key | None = None
    source: Key | None = None
    chat_id: Annotated[int, Field(ge=1, le=MAX_CHAT_ID)] | None = None


class Bodies(Body):
    el: TemplateBody
    en: TemplateBody | None = None
    tr: TemplateBody | None = None


class InlineTemplate(Body):
    name: TemplateName
    bodies: Bodies


class NoticeIn(Body):
    recipient: Recipient
    template: TemplateName | InlineTemplate
    values: Values = Field(default_factory=dict)
    idempotency_key: Key | None = None


class Preview(Reply):
    language: str
    text: str
    fallback: bool


class NoticeOut(Reply):
    chats: int
    queued: int
    missing_translations: list[str]
    missing_values: list[str]
    previews: list[Preview]
    notice_id: int | None = None
    template_version: int | None = None
    no_chat_reason: Literal["never_linked", "inactive"] | None = None


def actor(call: Call) -> Actor:
    assert call.token is not None
    return Actor(call.token.actor, Role.SUPERVISOR)


def template_of(template: str | InlineTemplate) -> str | notices.NoticeTemplate:
    if isinstance(template, str):
        return template
    bodies = {lang: text for lang, text in template.bodies.model_dump().items() if text}
    return notices.NoticeTemplate(name=template.name, bodies=bodies)


def _reply(result: notices.NoticeResult) -> NoticeOut:
    return NoticeOut(
        chats=result.chats,
        queued=result.queued,
        missing_translations=list(result.missing_translations),
        missing_values=list(result.missing_values),
        previews=[Preview(language=p.language, text=p.text, fallback=p.fallback)
                  for p in result.previews],
        notice_id=result.notice_id,
        template_version=result.template_version,
        no_chat_reason=result.no_chat_reason,  # type: ignore[arg-type]
    )


def _query(recipient: Recipient) -> notices.RecipientQuery:
    return notices.RecipientQuery(**recipient.model_dump())


async def send(call: Call) -> NoticeOut:
    """Queue the notice for every active chat linked to the recipient."""
    body: NoticeIn = call.body
    try:
        result = await notices.send_notice(
            call.deps, actor=actor(call), recipient=_query(body.recipient),
            template=template_of(body.template), values=dict(body.values),
            idempotency_key=body.idempotency_key,
        )
    except StaffError as exc:
        raise staff_error(exc) from None
    return _reply(result)


async def preview(call: Call) -> NoticeOut:
    """What the notice would say in each language; nothing is queued."""
    body: NoticeIn = call.body
    try:
        result = await notices.preview_notice(
            call.deps, actor=actor(call), recipient=_query(body.recipient),
            template=template_of(body.template), values=dict(body.values),
        )
    except StaffError as exc:
        raise staff_error(exc) from None
    return _reply(result)


class NoticeCsvIn(Body):
    template: TemplateName | InlineTemplate
    csv: Annotated[str, StringConstraints(min_length=1, max_length=broadcasts.MAX_CSV_CHARS)]
    send: bool = False


class CsvError(Reply):
    line: int
    column: str
    problem: str


class NoticeCsvOut(Reply):
    sent: bool
    rows: int
    ok_rows: int
    chats: int
    errors: list[CsvError]
    unreachable_lines: list[int]
    missing_translations: list[str]
    previews: list[Preview]
    broadcast_id: int | None
    queued: int
    status: str | None = None  # the list's state: awaiting_approval until a second token approves


def _csv_reply(check: broadcasts.CsvCheck, view: broadcasts.BroadcastView | None) -> NoticeCsvOut:
    return NoticeCsvOut(
        sent=view is not None and view.status == "sending",
        rows=check.rows,
        ok_rows=check.rows - len({problem.line for problem in check.problems}),
        chats=check.chats,
        errors=[CsvError(line=p.line, column=p.column, problem=p.problem)
                for p in check.problems],
        unreachable_lines=list(check.unreachable),
        missing_translations=list(check.missing_translations),
        previews=[Preview(language=p.language, text=p.text, fallback=p.fallback)
                  for p in check.previews],
        broadcast_id=view.id if view is not None else None,
        queued=(view.expected or 0) if view is not None and view.status == "sending" else 0,
        status=str(view.status) if view is not None else None,
    )


async def send_csv(call: Call) -> NoticeCsvOut:
    """Check a CSV notice list row by row; with send=true, queue it if every row passes."""
    body: NoticeCsvIn = call.body
    template = template_of(body.template)
    try:
        if not body.send:
            check = await broadcasts.check_notice_csv(
                call.deps, actor=actor(call), template=template, csv_text=body.csv
            )
            return _csv_reply(check, None)
        view, check = await broadcasts.send_notice_csv(
            call.deps, actor=actor(call), template=template, csv_text=body.csv
        )
    except broadcasts.CsvProblems as exc:
        problems = exc.check.problems
        raise ApiError(
            422, "csv_problems",
            f"{len(problems)} row(s) failed the check; nothing was sent." if problems
            else "The CSV has no rows; nothing was sent.",
            details=[{"loc": ["csv", p.line, p.column], "msg": p.problem, "type": "csv_row"}
                     for p in problems[:1000]],
        ) from None
    except StaffError as exc:
        raise staff_error(exc) from None
    return _csv_reply(check, view)


CSV_DESCRIPTION = (
    "A notice list as CSV text in `csv` (comma- or semicolon-separated, first line = header, one "
    "row per recipient). Recipient columns: `chat_id`, or `id_type` (id_card, arc, passport, "
    "company_reg) + `id_number`, or `reference` (+ `source` when several registries use "
    "it). Every other column is a placeholder value for the template, e.g. `name`, "
    "`amount` (euro), `deadline` (YYYY-MM-DD); values from the debt or person fill the "
    "rest. Every row is checked (recipient found, values well-formed, no placeholder "
    "missing, no recipient twice). `send: false` (default) returns the check and writes "
    "nothing; `send: true` asks for the list to be sent (a broadcast of kind csv, status "
    "`awaiting_approval`) only if every row passes; a SECOND token approves it with "
    "POST /api/broadcasts/{id}/approve (the same token is refused), else 422 with the row errors (`details[].loc` = [\"csv\", line, column]; "
    "line 1 is the header) and nothing is sent. Identity numbers are never echoed."
)


OPERATIONS = [
    Operation(
        "POST", "/api/notices", "sendNotice", "Send a notice to one person", "notices", send,
        NoticeOut, scope="notices", request=NoticeIn, status=201, errors=STAFF_ERRORS,
    ),
    Operation(
        "POST", "/api/notices/preview", "previewNotice", "Preview a notice (nothing is sent)",
        "notices", preview, NoticeOut, scope="notices", request=NoticeIn, errors=STAFF_ERRORS,
    ),
    Operation(
        "POST", "/api/notices/csv", "sendNoticeCsv",
        "Check, or send, a notice list uploaded as CSV", "notices", send_csv, NoticeCsvOut,
        scope="notices", request=NoticeCsvIn, errors=STAFF_ERRORS, description=CSV_DESCRIPTION,
    ),
]
