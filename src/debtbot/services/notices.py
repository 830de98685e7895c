"""Notices to one person: a stored template in el, en and tr, filled in per chat language,
queued in the outbox for every active chat linked to that person (or company).

A template body is plain text with placeholders `{name}`, `{reference}`, `{amount}`,
`{deadline}` (and any other `{word}` a CSV column or the caller supplies). The body is
HTML-escaped, then the values (escaped too) are put in with `str.format_map`; `{{`/`}}` are
literal braces. Only bare names are allowed (no `{x.attr}`, `{x[0]}`, `{x!r}`, `{x:>9}`), so a
template cannot reach into Python objects. Amounts are shown as money and deadlines as dates
in each chat's language. A language without a body falls back to Greek; the preview and the
result say which languages fell back.

API (exact signatures; the Telegram and HTTP adapters code against these):

    PLACEHOLDERS = ("name", "reference", "amount", "deadline")

    @dataclass(frozen=True) NoticeTemplate(name: str, bodies: dict[str, str])
        bodies: {"el": ..., "en": ..., "tr": ...}; Greek is required, the others optional.
    async def save_template(deps, *, actor: Actor, name: str, bodies: dict[str, str])
        -> NoticeTemplate          supervisor+; creates or replaces; audited "template.save";
                                   Invalid(code="bad_template"|"bad_name"|"no_greek")
    async def get_template(deps, *, name: str) -> NoticeTemplate       NotFound
    async def list_templates(deps) -> list[NoticeTemplate]

    @dataclass(frozen=True) RecipientQuery(id_type: str | None = None,
        id_number: str | None = None, reference: str | None = None, source: str | None = None,
        chat_id: int | None = None)
        exactly one way: id_type ("id_card"|"arc"|"passport"|"company_reg") + id_number;
        or reference (+ source when two registries use the same reference); or chat_id (the
        identities verified in that chat). Invalid(code="bad_recipient"|"bad_identifier"|
        "ambiguous_reference"), NotFound(code="no_recipient").
        From a debt reference, {reference}, {amount} (what is due now) and {deadline} (the
        last day before the next legal threshold) are filled in from the debt; {name} from
        the registry in every case. Values given by the caller win.

    @dataclass(frozen=True) NoticePreview(language: str, text: str, fallback: bool)
        fallback: True when this language had no body and the Greek one is shown.
    @dataclass(frozen=True) NoticeResult(chats: int, queued: int,
        missing_translations: list[str], missing_values: list[str],
        previews: list[NoticePreview])
        previews: one per language among the recipient's chats (all three when none).

    async def preview_notice(deps, *, actor: Actor, recipient: RecipientQuery,
        template: str | NoticeTemplate, values: dict[str, str] | None = None) -> NoticeResult
        operator+; writes nothing; queued == 0.
    async def send_notice(deps, *, actor: Actor, recipient: RecipientQuery,
        template: str | NoticeTemplate, values: dict[str, str] | None = None,
        idempotency_key: str | None = None) -> NoticeResult
        operator+; queues one outbox row per active linked chat (purpose NOTICE,
        Priority.NOTICE, key "notice:<idempotency_key or uuid>:<chat_id>"), audited
        "notice.send" with the count; Invalid(code="missing_values") when a placeholder has
        no value; nothing is queued then.

    Discreet chats (chats.discreet) get a teaser with a "Read it" button (callback_data
    "nshow:<key>"); `async def reveal(deps, *, chat_id, data) -> str | None` gives the text.

    Errors are debtbot.services.staff.StaffError subclasses (NotAllowed/NotFound/Invalid).
"""

from __future__ import annotations

import hashlib
import html
import re
import string
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from debtbot.domain.amounts import amount_due
from debtbot.domain.identifiers import (
    IdType,
    InvalidIdentifier,
    normalise_identifier,
)
from debtbot.domain.messages import OutboxPurpose, Priority
from debtbot.domain.milestones import next_milestone
from debtbot.domain.money import InvalidAmount, parse_amount
from debtbot.i18n import LANGUAGES, Translator, translator
from debtbot.services.deps import Deps
from debtbot.services.staff import Actor, Invalid, NotFound, Role, require
from debtbot.store.broadcasts import Holder, RecipientChat, TemplateRecord
from debtbot.store.unit_of_work import UnitOfWork

PLACEHOLDERS = ("name", "reference", "amount", "deadline")
MONEY_VALUES = frozenset({"amount", "total_due"})  # shown as money in the reader's language
DATE_VALUES = frozenset({"deadline", "next_deadline"})  # shown as dates
FALLBACK_LANGUAGE = "el"
MAX_BODY = 3500  # leaves room under Telegram's 4096 once values are in
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class NoticeTemplate:
    name: str
    bodies: dict[str, str]
    version: int | None = None  # None: given inline, never stored
    updated_by: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecipientQuery:
    id_type: str | None = None
    id_number: str | None = None
    reference: str | None = None
    source: str | None = None
    chat_id: int | None = None
    id_hash: str | None = None  # a keyed hash instead of the number (a list kept for approval)

    def __repr__(self) -> str:  # the identity number never reaches a log or a traceback
        how = "identifier" if self.id_number else "reference" if self.reference else "chat"
        return f"RecipientQuery({how})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class NoticePreview:
    """`text` is plain text (escape it for HTML); `fallback`: the Greek text stands in."""

    language: str
    text: str
    fallback: bool


@dataclass(frozen=True, slots=True)
class NoticeResult:
    chats: int
    queued: int
    missing_translations: list[str] = field(default_factory=list)
    missing_values: list[str] = field(default_factory=list)
    previews: list[NoticePreview] = field(default_factory=list)
    no_chat_reason: str | None = None  # why it would reach nobody (None: it reaches someone)
    notice_id: int | None = None  # the notice's number, to follow its delivery
    template_version: int | None = None


NO_CHAT_REASONS = {
    "never_linked": "nobody has verified this person in the bot, so no chat is linked to "
    "them; nothing was queued",
    "inactive": "every chat linked to this person is inactive (the bot was blocked or the "
    "chat deleted); nothing was queued",
}


# --- templates -------------------------------------------------------------------------------


def placeholders(body: str) -> list[str]:
    """The placeholder names in a body, in order; Invalid if one is not a bare name."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise Invalid(f"unbalanced braces: {exc}", code="bad_template") from exc
    for _literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if not _NAME.match(field_name) or format_spec or conversion:
            raise Invalid(
                f"placeholder {{{field_name}}} must be a plain lower-case name",
                code="bad_template",
            )
        if field_name not in names:
            names.append(field_name)
    return names


def check_template(template: NoticeTemplate) -> NoticeTemplate:
    """Validate name and bodies; returns the template with bodies for el/en/tr (maybe "")."""
    if not _TEMPLATE_NAME.match(template.name or ""):
        raise Invalid("template name: letters, digits, _ . - (up to 100)", code="bad_name")
    unknown = set(template.bodies) - set(LANGUAGES)
    if unknown:
        raise Invalid(f"unknown language(s): {', '.join(sorted(unknown))}", code="bad_template")
    bodies = {lang: (template.bodies.get(lang) or "").strip() for lang in LANGUAGES}
    if not bodies[FALLBACK_LANGUAGE]:
        raise Invalid("the Greek body is required", code="no_greek")
    for body in bodies.values():
        if len(body) > MAX_BODY:
            raise Invalid(f"a body is longer than {MAX_BODY} characters", code="bad_template")
        placeholders(body)
    greek = sorted(placeholders(bodies[FALLBACK_LANGUAGE]))
    for lang in LANGUAGES:
        if bodies[lang] and sorted(placeholders(bodies[lang])) != greek:
            theirs = ", ".join("{" + n + "}" for n in sorted(placeholders(bodies[lang])))
            ours = ", ".join("{" + n + "}" for n in greek)
            raise Invalid(
                f"the {lang} text has the placeholders {theirs or '(none)'} but the Greek "
                f"text has {ours or '(none)'}: every language needs the same ones",
                code="placeholders_differ",
            )
    return NoticeTemplate(template.name, bodies, template.version, template.updated_by,
                          template.updated_at)


def template_placeholders(bodies: Mapping[str, str]) -> list[str]:
    names: list[str] = []
    for lang in LANGUAGES:
        for name in placeholders(bodies.get(lang) or ""):
            if name not in names:
                names.append(name)
    return names


def missing_translations(bodies: Mapping[str, str], languages: Iterable[str] = LANGUAGES) -> list[str]:
    return [lang for lang in LANGUAGES if lang in set(languages) and not bodies.get(lang)]


async def save_template(
    deps: Deps, *, actor: Actor, name: str, bodies: dict[str, str]
) -> NoticeTemplate:
    """Create or replace a template (supervisors and admins)."""
    require(actor, Role.SUPERVISOR)
    template = check_template(NoticeTemplate(name, dict(bodies)))
    async with deps.uow() as uow:
        version = await uow.broadcasts.save_template(
            name=template.name, bodies=template.bodies, by=actor.label
        )
        await uow.audit.record(
            actor=actor.label,
            action="template.save",
            subject=f"template:{template.name}",
            details={"languages": [lang for lang in LANGUAGES if template.bodies[lang]],
                     "version": version},
        )
    return NoticeTemplate(template.name, template.bodies, version, actor.label)


def _template(record: TemplateRecord) -> NoticeTemplate:
    return NoticeTemplate(record.name, record.bodies, record.version, record.updated_by,
                          record.updated_at)


async def get_template(deps: Deps, *, name: str) -> NoticeTemplate:
    record = await deps.read(lambda uow: uow.broadcasts.template(name))
    if record is None:
        raise NotFound("no such template", code="no_template")
    return _template(record)


async def list_templates(deps: Deps) -> list[NoticeTemplate]:
    found = await deps.read(lambda uow: uow.broadcasts.templates())
    return [_template(record) for record in found]


async def template_versions(deps: Deps, *, name: str) -> list[NoticeTemplate]:
    """Every saved version of a template, newest first (NotFound if none)."""
    found = await deps.read(lambda uow: uow.broadcasts.template_versions(name))
    if not found:
        raise NotFound("no such template", code="no_template")
    return [_template(record) for record in found]


async def resolve_template(deps: Deps, template: str | NoticeTemplate) -> NoticeTemplate:
    if isinstance(template, NoticeTemplate):
        return check_template(template)
    return await get_template(deps, name=template)


# --- rendering -------------------------------------------------------------------------------


class _Values(dict[str, str]):
    """format_map's mapping: a missing value shows as the placeholder itself."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def parse_deadline(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar day
        except ValueError:
            continue
    raise Invalid(f"deadline {text[:20]!r} is not a date (YYYY-MM-DD)", code="bad_deadline")


def check_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parse amount and deadline once, so a bad one is refused before anything is queued."""
    checked: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if value is None or value == "":
            continue
        if not _NAME.match(str(key)):
            raise Invalid(f"bad placeholder name {str(key)[:40]!r}", code="bad_values")
        if key in MONEY_VALUES:
            try:
                checked[key] = parse_amount(value) if not isinstance(value, Decimal) else value
            except InvalidAmount as exc:
                raise Invalid(f"amount: {exc}", code="bad_amount") from exc
        elif key in DATE_VALUES:
            checked[key] = parse_deadline(value)
        else:
            text = str(value).strip()
            if len(text) > 500:
                raise Invalid(f"value for {key} is too long", code="bad_values")
            checked[key] = text
    return checked


def format_value(t: Translator, key: str, value: Any) -> str:
    if isinstance(value, Decimal):
        return t.money(value)
    if isinstance(value, date):
        return t.date(value)
    return str(value)


def render(body: str, t: Translator, values: Mapping[str, Any]) -> str:
    """Telegram HTML: escape the body, then put in the escaped, localised values."""
    escaped = {key: html.escape(format_value(t, key, value)) for key, value in values.items()}
    return html.escape(body, quote=False).format_map(_Values(escaped))


def render_plain(body: str, t: Translator, values: Mapping[str, Any]) -> str:
    """Plain text (for previews in JSON or a web page, which escape it themselves)."""
    plain = {key: format_value(t, key, value) for key, value in values.items()}
    return body.format_map(_Values(plain))


def body_for(bodies: Mapping[str, str], language: str) -> tuple[str, bool]:
    """The body for a language, or the Greek one (fallback=True) when it has none."""
    body = bodies.get(language) or ""
    if body:
        return body, False
    return bodies.get(FALLBACK_LANGUAGE) or "", True


def text_for(
    bodies: Mapping[str, str], language: str, values: Mapping[str, Any], deps: Deps, *,
    as_html: bool = True,
) -> tuple[str, bool]:
    """The text a reader of `language` gets, and whether it is the Greek fallback. Values
    are formatted in the language the text is written in: a Greek text carries Greek dates
    and amounts even for a Turkish reader."""
    body, fallback = body_for(bodies, language)
    t = translator(FALLBACK_LANGUAGE if fallback else language, timezone=deps.settings.tz)
    return (render if as_html else render_plain)(body, t, values), fallback


def previews_for(
    bodies: Mapping[str, str], values: Mapping[str, Any], languages: Iterable[str], deps: Deps
) -> list[NoticePreview]:
    wanted = set(languages)
    result = []
    for lang in LANGUAGES:
        if lang not in wanted:
            continue
        text, fallback = text_for(bodies, lang, values, deps, as_html=False)
        result.append(NoticePreview(lang, text, fallback))
    return result


# --- discreet chats --------------------------------------------------------------------------

REVEAL_PREFIX = "nshow:"


def notice_payload(t: Translator, text: str, *, discreet: bool, reveal_key: str) -> dict[str, Any]:
    """The outbox payload; in discreet mode only a teaser, the text behind a button
    (a locked phone's preview never shows amounts or kinds of debt).
    `reveal_key` + ":<chat_id>" is the row's dedupe key."""
    if not discreet:
        return {"text": text, "buttons": [], "disable_notification": False}
    return {
        "text": t.gettext(
            "You have a new message from the authorities. Press the button to read it here."
        ),
        "buttons": [[{
            "text": t.pgettext("button", "Read it"),
            "callback_data": REVEAL_PREFIX + reveal_key,
        }]],
        "disable_notification": False,
        "details": text,
    }


async def reveal(deps: Deps, *, chat_id: int, data: str) -> str | None:
    """The full text behind a discreet teaser's button, only in the chat it was sent to and
    only while that chat is still verified; None when gone (purged, forgotten, forged)."""
    if not data.startswith(REVEAL_PREFIX):
        return None
    key = f"{data[len(REVEAL_PREFIX):]}:{chat_id}"

    async def sent_to_a_verified_chat(uow: UnitOfWork) -> dict[str, Any] | None:
        if not await uow.broadcasts.holders_for_chat(chat_id):
            return None
        return await uow.broadcasts.sent_payload(dedupe_key=key, chat_id=chat_id)

    payload = await deps.read(sent_to_a_verified_chat)
    if not payload:
        return None
    found = payload.get("details") or payload.get("text")
    return found if isinstance(found, str) else None


# --- recipients ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    subject: str  # "person:<id>" / "company:<id>" / "chat:<id>" for the audit log
    chats: list[RecipientChat]
    values: dict[str, Any]
    holders: tuple[Holder, ...] = ()


async def resolve_recipient(deps: Deps, uow: UnitOfWork, query: RecipientQuery) -> Resolved:
    given = [bool(query.id_number or query.id_type or query.id_hash), bool(query.reference),
             query.chat_id is not None]
    if sum(given) != 1:
        raise Invalid(
            "give exactly one of: id_type and id_number, reference, chat_id", code="bad_recipient"
        )
    now = deps.clock()
    if query.chat_id is not None:
        holders = await uow.broadcasts.holders_for_chat(int(query.chat_id))
        if not holders:
            raise NotFound("no verified identity in that chat", code="no_recipient")
        chats = await uow.broadcasts.chats_for_holders(holders)
        values = {"name": holders[0].name} if len(holders) == 1 else {}
        return Resolved(f"chat:{query.chat_id}", chats, values, tuple(holders))
    if query.reference:
        debts = await uow.broadcasts.debts_by_reference(
            reference=query.reference.strip(), source=(query.source or "").strip() or None
        )
        if not debts:
            raise NotFound("no debt with that reference", code="no_recipient")
        if len(debts) > 1:
            raise Invalid("several registries use that reference: give source", code="ambiguous_reference")
        debt, holder = debts[0]
        values: dict[str, Any] = {"name": holder.name, "reference": debt.reference}
        rulebook = deps.rulebook
        due = amount_due(debt, now, rulebook=rulebook)
        if debt.is_open:
            values["amount"] = due.total
            upcoming = next_milestone(debt, now, rulebook=rulebook)
            if upcoming is not None:
                values["deadline"] = upcoming.last_day
        chats = await uow.broadcasts.chats_for_holders([holder])
        return Resolved(holder.subject, chats, values, (holder,))
    try:
        id_type = IdType(query.id_type or "")
        # A list kept for approval holds the hash already; a number may be filed under the
        # current key's hash or, during a rotation, the previous key's.
        id_hashes = (query.id_hash,) if query.id_hash else deps.settings.keyring.identifier_hashes(
            normalise_identifier(id_type, query.id_number or "")
        )
    except (ValueError, InvalidIdentifier) as exc:
        raise Invalid("not a valid identifier of that type", code="bad_identifier") from exc
    holder = await uow.broadcasts.holder_by_hash(
        id_hash=id_hashes, company=id_type is IdType.COMPANY_REG
    )
    if holder is None:
        raise NotFound("nobody with that identifier", code="no_recipient")
    chats = await uow.broadcasts.chats_for_holders([holder])
    return Resolved(holder.subject, chats, {"name": holder.name}, (holder,))


async def no_chat_reason(uow: UnitOfWork, resolved: Resolved) -> str | None:
    """Why nothing would reach this recipient ("never_linked", "inactive"), or None."""
    if resolved.chats:
        return None
    linked, _active = await uow.broadcasts.linked_chats(resolved.holders)
    return "inactive" if linked else "never_linked"


def merge_values(auto: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: value for key, value in auto.items() if value not in (None, "")}
    merged.update(given)
    return merged


def _languages(chats: list[RecipientChat]) -> list[str]:
    found = {chat.language if chat.language in LANGUAGES else "en" for chat in chats}
    return [lang for lang in LANGUAGES if lang in found] or list(LANGUAGES)


async def _prepare(
    deps: Deps,
    uow: UnitOfWork,
    *,
    recipient: RecipientQuery,
    template: NoticeTemplate,
    values: Mapping[str, Any] | None,
) -> tuple[Resolved, dict[str, Any], NoticeResult]:
    given = check_values(values)
    resolved = await resolve_recipient(deps, uow, recipient)
    merged = merge_values(resolved.values, given)
    needed = template_placeholders(template.bodies)
    missing = [name for name in needed if name not in merged]
    languages = _languages(resolved.chats)
    result = NoticeResult(
        chats=len(resolved.chats),
        queued=0,
        missing_translations=missing_translations(template.bodies, languages),
        missing_values=missing,
        previews=previews_for(template.bodies, merged, languages, deps),
        no_chat_reason=await no_chat_reason(uow, resolved),
        template_version=template.version,
    )
    return resolved, merged, result


async def preview_notice(
    deps: Deps,
    *,
    actor: Actor,
    recipient: RecipientQuery,
    template: str | NoticeTemplate,
    values: dict[str, str] | None = None,
) -> NoticeResult:
    """What the notice would say, per language, and to how many chats; writes nothing."""
    require(actor, Role.OPERATOR)
    found = await resolve_template(deps, template)
    async with deps.uow() as uow:
        _resolved, _merged, result = await _prepare(
            deps, uow, recipient=recipient, template=found, values=values
        )
    return result


async def send_notice(
    deps: Deps,
    *,
    actor: Actor,
    recipient: RecipientQuery,
    template: str | NoticeTemplate,
    values: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> NoticeResult:
    """Queue the notice for every active chat linked to the person, each in its language."""
    require(actor, Role.OPERATOR)
    found = await resolve_template(deps, template)
    notice_id = (
        hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        if idempotency_key
        else uuid.uuid4().hex
    )
    now = deps.clock()
    async with deps.uow() as uow:
        resolved, merged, result = await _prepare(
            deps, uow, recipient=recipient, template=found, values=values
        )
        if result.missing_values:
            raise Invalid(
                "no value for: " + ", ".join(result.missing_values), code="missing_values"
            )
        if result.no_chat_reason is not None:
            raise Invalid(NO_CHAT_REASONS[result.no_chat_reason], code="no_chat")
        existing = await uow.broadcasts.notice_by_key(notice_id)
        if existing is not None:  # the same idempotency key again: the notice already exists
            return replace(result, queued=0, notice_id=existing)
        texts = {
            lang: text_for(found.bodies, lang, merged, deps)[0]
            for lang in {p.language for p in result.previews}
        }
        queued = 0
        for chat in resolved.chats:
            lang = chat.language if chat.language in LANGUAGES else "en"
            inserted = await uow.outbox.enqueue(
                dedupe_key=f"notice:{notice_id}:{chat.chat_id}",
                chat_id=chat.chat_id,
                purpose=OutboxPurpose.NOTICE,
                payload=notice_payload(
                    translator(lang, timezone=deps.settings.tz),
                    texts[lang],
                    discreet=chat.discreet,
                    reveal_key=f"notice:{notice_id}",
                ),
                not_before=now,
                priority=int(Priority.NOTICE),
            )
            queued += int(inserted)
        number = await uow.broadcasts.add_notice(
            key=notice_id, template=found.name, template_version=found.version,
            subject=resolved.subject, created_by=actor.label, created_at=now,
            chats=len(resolved.chats), queued=queued,
        )
        await uow.audit.record(
            actor=actor.label,
            action="notice.send",
            subject=resolved.subject,
            count=queued,
            details={
                "template": found.name,
                "version": found.version,
                "chats": len(resolved.chats),
                "fallback": result.missing_translations,
                "notice": number,
            },
        )
    return replace(result, queued=queued, missing_values=[], notice_id=number)


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: int
    key: str
    template: str
    template_version: int | None
    subject: str
    created_by: str
    created_at: datetime
    chats: int
    queued: int


async def get_notice(deps: Deps, *, notice_id: int) -> NoticeView:
    row = await deps.read(lambda uow: uow.broadcasts.notice(notice_id))
    if row is None:
        raise NotFound("no such notice", code="no_notice")
    return NoticeView(**asdict(row))


async def list_notices(deps: Deps, *, limit: int = 100) -> list[NoticeView]:
    rows = await deps.read(lambda uow: uow.broadcasts.notices(limit=max(1, min(limit, 1000))))
    return [NoticeView(**asdict(row)) for row in rows]
