"""Staff, notice templates, notice recipients, and the audit log by action prefix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import (
    AuditEntry,
    Chat,
    ChatLink,
    Company,
    DebtRow,
    Notice,
    NoticeTemplateRow,
    NoticeTemplateVersion,
    OutboxMessage,
    Person,
    StaffMember,
)
from debtbot.store.repository import Repository


@dataclass(frozen=True, slots=True)
class StaffRowView:
    telegram_user_id: int
    name: str
    role: str
    active: bool
    receives_tests: bool
    language: str | None


def _staff_view(row: StaffMember, language: str | None) -> StaffRowView:
    return StaffRowView(
        telegram_user_id=row.telegram_user_id,
        name=row.name,
        role=row.role,
        active=row.active,
        receives_tests=row.receives_tests,
        language=language,
    )


async def _chat_language(session: AsyncSession, chat_id: int) -> str | None:
    return await session.scalar(select(Chat.language).where(Chat.id == chat_id))


async def upsert_staff(
    session: AsyncSession, *, telegram_user_id: int, name: str, role: str, receives_tests: bool
) -> StaffRowView:
    row = await session.scalar(
        select(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
    )
    if row is None:
        row = StaffMember(telegram_user_id=telegram_user_id)
        session.add(row)
    row.name = name
    row.role = role
    row.active = True
    row.receives_tests = receives_tests
    await session.flush()
    return _staff_view(row, await _chat_language(session, telegram_user_id))


async def deactivate_staff(session: AsyncSession, *, telegram_user_id: int) -> StaffRowView | None:
    row = await session.scalar(
        select(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
    )
    if row is None:
        return None
    row.active = False
    await session.flush()
    return _staff_view(row, await _chat_language(session, telegram_user_id))


async def get_staff(session: AsyncSession, *, telegram_user_id: int) -> StaffRowView | None:
    found = (
        await session.execute(
            select(StaffMember, Chat.language)
            .outerjoin(Chat, Chat.id == StaffMember.telegram_user_id)
            .where(StaffMember.telegram_user_id == telegram_user_id)
        )
    ).first()
    return None if found is None else _staff_view(found[0], found[1])


async def list_staff(session: AsyncSession, *, include_inactive: bool) -> list[StaffRowView]:
    query = select(StaffMember, Chat.language).outerjoin(
        Chat, Chat.id == StaffMember.telegram_user_id
    )
    if not include_inactive:
        query = query.where(StaffMember.active.is_(True))
    return [_staff_view(row, language) for row, language in (await session.execute(query)).all()]


async def test_recipients(session: AsyncSession) -> list[tuple[int, str]]:
    """The test-mode allow-list: (chat id, language) of active staff who receive tests."""
    rows = await session.execute(
        select(StaffMember.telegram_user_id, Chat.language)
        .outerjoin(Chat, Chat.id == StaffMember.telegram_user_id)
        .where(StaffMember.active.is_(True), StaffMember.receives_tests.is_(True))
        .order_by(StaffMember.telegram_user_id)
    )
    return [(chat_id, language or "en") for chat_id, language in rows.all()]


# --- templates -------------------------------------------------------------------------------


def _bodies(row: NoticeTemplateRow) -> dict[str, str]:
    return {"el": row.body_el or "", "en": row.body_en or "", "tr": row.body_tr or ""}


async def save_template(
    session: AsyncSession, *, name: str, bodies: dict[str, str], by: str
) -> int:
    """Create or edit a template; an edit that changes a text is a new version. Returns the
    current version."""
    row = await session.scalar(select(NoticeTemplateRow).where(NoticeTemplateRow.name == name))
    new = {lang: bodies.get(lang, "") for lang in ("el", "en", "tr")}
    if row is None:
        row = NoticeTemplateRow(name=name, version=1)
        session.add(row)
    elif _bodies(row) == new:
        return row.version
    else:
        row.version = (row.version or 1) + 1
    row.body_el, row.body_en, row.body_tr = new["el"], new["en"], new["tr"]
    row.updated_by = by
    await session.flush()
    session.add(NoticeTemplateVersion(
        template_id=row.id, version=row.version, body_el=new["el"], body_en=new["en"],
        body_tr=new["tr"], created_by=by,
    ))
    await session.flush()
    return row.version


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    name: str
    bodies: dict[str, str]
    version: int
    updated_by: str
    updated_at: datetime | None


def _record(row: NoticeTemplateRow) -> TemplateRecord:
    return TemplateRecord(row.name, _bodies(row), row.version or 1, row.updated_by,
                          row.updated_at)


async def get_template(session: AsyncSession, *, name: str) -> TemplateRecord | None:
    row = await session.scalar(select(NoticeTemplateRow).where(NoticeTemplateRow.name == name))
    return None if row is None else _record(row)


async def list_templates(session: AsyncSession) -> list[TemplateRecord]:
    rows = await session.scalars(select(NoticeTemplateRow).order_by(NoticeTemplateRow.name))
    return [_record(row) for row in rows]


async def template_versions(session: AsyncSession, *, name: str) -> list[TemplateRecord]:
    """Every version of a template, newest first."""
    rows = await session.execute(
        select(NoticeTemplateVersion)
        .join(NoticeTemplateRow, NoticeTemplateRow.id == NoticeTemplateVersion.template_id)
        .where(NoticeTemplateRow.name == name)
        .order_by(NoticeTemplateVersion.version.desc())
    )
    return [
        TemplateRecord(name, {"el": v.body_el, "en": v.body_en, "tr": v.body_tr}, v.version,
                       v.created_by, v.created_at)
        for (v,) in rows.all()
    ]


# --- recipients ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    kind: str  # person, company
    id: int
    name: str

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.id}"


async def holder_by_hash(
    session: AsyncSession, *, id_hash: str | Sequence[str], company: bool
) -> Holder | None:
    """The holder filed under this hash (or any of these: the current key's, the previous)."""
    hashes = [id_hash] if isinstance(id_hash, str) else list(id_hash)
    if company:
        row = await session.scalar(
            select(Company).where(Company.reg_hash.in_(hashes)).order_by(Company.id).limit(1)
        )
        return None if row is None else Holder("company", row.id, row.name)
    person = await session.scalar(
        select(Person).where(Person.id_hash.in_(hashes)).order_by(Person.id).limit(1)
    )
    return None if person is None else Holder("person", person.id, person.name)


async def holders_for_chat(session: AsyncSession, *, chat_id: int) -> list[Holder]:
    links = (await session.scalars(select(ChatLink).where(ChatLink.chat_id == chat_id))).all()
    holders: list[Holder] = []
    for link in links:
        if link.company_id is not None:
            company = await session.get(Company, link.company_id)
            if company is not None:
                holders.append(Holder("company", company.id, company.name))
        elif link.person_id is not None:
            person = await session.get(Person, link.person_id)
            if person is not None:
                holders.append(Holder("person", person.id, person.name))
    return holders


async def debts_by_reference(
    session: AsyncSession, *, reference: str, source: str | None
) -> list[tuple[DebtRow, Holder]]:
    query = select(DebtRow).where(DebtRow.reference == reference)
    if source:
        query = query.where(DebtRow.source == source)
    found: list[tuple[DebtRow, Holder]] = []
    for row in (await session.scalars(query)).all():
        if row.company_id is not None:
            company = await session.get(Company, row.company_id)
            if company is not None:
                found.append((row, Holder("company", company.id, company.name)))
        elif row.person_id is not None:
            person = await session.get(Person, row.person_id)
            if person is not None:
                found.append((row, Holder("person", person.id, person.name)))
    return found


async def linked_chats(session: AsyncSession, holders: Sequence[Holder]) -> tuple[int, int]:
    """(chats linked to the holders, of which active): why a notice would reach nobody."""
    persons = [h.id for h in holders if h.kind == "person"]
    companies = [h.id for h in holders if h.kind == "company"]
    conditions = []
    if persons:
        conditions.append(and_(ChatLink.person_id.in_(persons), ChatLink.company_id.is_(None)))
    if companies:
        conditions.append(ChatLink.company_id.in_(companies))
    if not conditions:
        return 0, 0
    rows = (await session.execute(
        select(Chat.id, Chat.active).join(ChatLink, ChatLink.chat_id == Chat.id)
        .where(or_(*conditions)).distinct()
    )).all()
    return len(rows), sum(1 for _chat, active in rows if active)


class RecipientChat(NamedTuple):
    chat_id: int
    language: str
    discreet: bool


async def chats_for_holders(
    session: AsyncSession, holders: Sequence[Holder]
) -> list[RecipientChat]:
    """Active chats linked to any of the holders, by chat id."""
    persons = [h.id for h in holders if h.kind == "person"]
    companies = [h.id for h in holders if h.kind == "company"]
    conditions = []
    if persons:
        conditions.append(and_(ChatLink.person_id.in_(persons), ChatLink.company_id.is_(None)))
    if companies:
        conditions.append(ChatLink.company_id.in_(companies))
    if not conditions:
        return []
    rows = await session.execute(
        select(Chat.id, Chat.language, Chat.discreet)
        .join(ChatLink, ChatLink.chat_id == Chat.id)
        .where(Chat.active.is_(True), or_(*conditions))
        .distinct()
        .order_by(Chat.id)
    )
    return [RecipientChat(chat_id, language, bool(discreet)) for chat_id, language, discreet in rows.all()]


async def outbox_payload(session: AsyncSession, *, dedupe_key: str, chat_id: int) -> dict[str, Any] | None:
    """The payload of one chat's outbox row, or None (never queued, or purged)."""
    return await session.scalar(
        select(OutboxMessage.payload).where(
            OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.chat_id == chat_id
        )
    )


# --- notices ---------------------------------------------------------------------------------

_NOTICE_FIELDS = ("id", "key", "template", "template_version", "subject", "created_by",
                  "created_at", "chats", "queued")


def _notice(row: Notice) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _NOTICE_FIELDS}


async def add_notice(session: AsyncSession, **values: Any) -> int:
    row = Notice(**values)
    session.add(row)
    await session.flush()
    return row.id


async def notice_by_key(session: AsyncSession, *, key: str) -> int | None:
    return await session.scalar(select(Notice.id).where(Notice.key == key))


async def get_notice(session: AsyncSession, notice_id: int) -> dict[str, Any] | None:
    row = await session.get(Notice, notice_id)
    return None if row is None else _notice(row)


async def list_notices(session: AsyncSession, *, limit: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(Notice).order_by(Notice.id.desc()).limit(limit))
    return [_notice(row) for row in rows]


# --- audit -----------------------------------------------------------------------------------


async def audit_entries_with_prefix(
    session: AsyncSession,
    *,
    prefix: str,
    actor: str | None,
    since: datetime | None,
    limit: int,
) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action.startswith(prefix, autoescape=True))
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(await session.scalars(query))


class StaffRepository(Repository):
    """Staff, console sessions and API tokens: the only writer of their tables."""

    __slots__ = ()
