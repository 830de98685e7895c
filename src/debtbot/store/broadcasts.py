"""Broadcasts, notices to one person and their templates; the segments broadcasts go to, and
the recipients notices go to (read from chats, persons, companies and debts).

A broadcast's batch is one `INSERT INTO outbox … SELECT … FROM chats` over a range of chat
ids (OutboxRepository.queue_for_chats, given a `ChatSelection` from here), with the payload
chosen by the chat's language in SQL: 100,000 recipients are 20 statements of 5,000, not
100,000 objects. Each batch commits on its own, so the sender starts on the first while the
planner writes the next, and no transaction holds locks for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from debtbot.domain.debts import Debt
from debtbot.store.mapping import DEBT_COLUMNS, debt_from_row
from debtbot.store.models import (
    Broadcast,
    Chat,
    ChatLink,
    Company,
    DebtRow,
    Notice,
    NoticeTemplateRow,
    NoticeTemplateVersion,
    OutboxMessage,
    Person,
)
from debtbot.store.repository import Repository

OPEN = "outstanding"


def _dialect(db: Any) -> str:
    bind = db.get_bind() if hasattr(db, "get_bind") else db
    return bind.dialect.name


# --- segments --------------------------------------------------------------------------------


def _linked() -> Any:
    return exists().where(ChatLink.chat_id == Chat.id)


def _holds(link_debt: Any) -> Any:
    """The debt belongs to what the link names: the person itself, or the company."""
    return or_(
        and_(ChatLink.company_id.is_(None), DebtRow.person_id == ChatLink.person_id),
        and_(ChatLink.company_id.is_not(None), DebtRow.company_id == ChatLink.company_id),
    ) & link_debt


def _with_open_debt(debt_kind: str | None) -> Any:
    condition = DebtRow.status == OPEN
    if debt_kind:
        condition = condition & (DebtRow.kind == debt_kind)
    return (
        exists()
        .where(ChatLink.chat_id == Chat.id)
        .where(_holds(condition))
    )


def _segment_condition(kind: str, debt_kind: str | None) -> Any:
    """SQL filter on `chats` for a segment. For overdue/past_threshold it is the superset
    (chats holding any open debt); the law's clock is then applied in Python per batch.
    """
    base = Chat.active.is_(True)
    if kind == "all":
        return and_(base, _linked())
    if kind == "debt_kind":
        return and_(base, _with_open_debt(debt_kind))
    return and_(base, _with_open_debt(None))


@dataclass(frozen=True, slots=True)
class ChatSelection:
    """Chats of a segment (kind "all", "debt_kind", "overdue", "past_threshold"): those
    after chat id `after` up to `through`, or, when `ids` is given, exactly those."""

    kind: str
    debt_kind: str | None = None
    after: int | None = None
    through: int | None = None
    ids: tuple[int, ...] | None = None


def selection_condition(chosen: ChatSelection) -> Any:
    """The SQL filter on `chats` for a selection (for OutboxRepository.queue_for_chats)."""
    if chosen.ids is not None:
        return Chat.id.in_(list(chosen.ids))
    condition = _segment_condition(chosen.kind, chosen.debt_kind)
    if chosen.after is not None:
        condition = condition & (Chat.id > chosen.after)
    if chosen.through is not None:
        condition = condition & (Chat.id <= chosen.through)
    return condition


@dataclass(frozen=True, slots=True)
class RecipientFacts:
    """What a per-recipient broadcast text needs of one chat."""

    language: str
    discreet: bool
    names: list[str] = field(default_factory=list)  # its verified identities, in link order
    debts: list[Debt] = field(default_factory=list)  # open debts held through them


# --- broadcasts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BroadcastRecord:
    id: int
    kind: str  # segment, csv
    segment: dict[str, Any]
    template: str
    template_version: int | None
    bodies: dict[str, Any]
    values: dict[str, Any]
    status: str
    test_mode: bool
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    cancelled_by: str | None
    rejected_by: str | None
    reject_reason: str | None
    source_csv: str | None
    send_at: datetime | None
    expected: int | None
    planned_through: int | None
    planning_done: bool
    finished_at: datetime | None
    progress_chat_id: int | None
    progress_message_id: int | None
    progress_language: str
    progress_shown: dict[str, Any]
    created_at: datetime
    updated_at: datetime


_BROADCAST = tuple(getattr(Broadcast, f.name) for f in fields(BroadcastRecord))


def _broadcast(row: Any) -> BroadcastRecord:
    return BroadcastRecord(**row._mapping)


# --- notices and templates -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    name: str
    bodies: dict[str, str]
    version: int
    updated_by: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    id: int
    key: str
    template: str
    template_version: int | None
    subject: str
    created_by: str
    created_at: datetime
    chats: int
    queued: int


_NOTICE = tuple(getattr(Notice, f.name) for f in fields(NoticeRecord))
_TEMPLATE = (NoticeTemplateRow.id, NoticeTemplateRow.name, NoticeTemplateRow.body_el,
             NoticeTemplateRow.body_en, NoticeTemplateRow.body_tr, NoticeTemplateRow.version,
             NoticeTemplateRow.updated_by, NoticeTemplateRow.updated_at)


def _bodies(row: Any) -> dict[str, str]:
    return {"el": row.body_el or "", "en": row.body_en or "", "tr": row.body_tr or ""}


def _template(row: Any) -> TemplateRecord:
    return TemplateRecord(row.name, _bodies(row), row.version or 1, row.updated_by,
                          row.updated_at)


@dataclass(frozen=True, slots=True)
class Holder:
    kind: str  # person, company
    id: int
    name: str

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class RecipientChat:
    chat_id: int
    language: str
    discreet: bool


def _holder_links(holders: Sequence[Holder]) -> list[Any]:
    persons = [h.id for h in holders if h.kind == "person"]
    companies = [h.id for h in holders if h.kind == "company"]
    conditions = []
    if persons:
        conditions.append(and_(ChatLink.person_id.in_(persons), ChatLink.company_id.is_(None)))
    if companies:
        conditions.append(ChatLink.company_id.in_(companies))
    return conditions


class BroadcastRepository(Repository):
    """Broadcasts, notices and their templates: the only writer of their tables."""

    __slots__ = ()

    # --- broadcasts ------------------------------------------------------------------------

    async def add(self, **values: Any) -> BroadcastRecord:
        """A new broadcast with these column values."""
        row = (await self._db.execute(
            insert(Broadcast).values(**values).returning(*_BROADCAST)
        )).one()
        return _broadcast(row)

    async def get(self, broadcast_id: int, *, for_update: bool = False) -> BroadcastRecord | None:
        """The broadcast; `for_update` locks it until the unit of work ends (PostgreSQL)."""
        query = select(*_BROADCAST).where(Broadcast.id == broadcast_id)
        if for_update and _dialect(self._db) == "postgresql":
            query = query.with_for_update()
        row = (await self._db.execute(query)).first()
        return None if row is None else _broadcast(row)

    async def change(self, broadcast_id: int, **values: Any) -> BroadcastRecord:
        """Set these column values; the broadcast as it is now."""
        row = (await self._db.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(**values)
            .returning(*_BROADCAST)
        )).one()
        return _broadcast(row)

    async def listed(self, *, status: str | None, limit: int) -> list[BroadcastRecord]:
        """Newest first."""
        query = select(*_BROADCAST)
        if status:
            query = query.where(Broadcast.status == status)
        rows = await self._db.execute(query.order_by(Broadcast.id.desc()).limit(limit))
        return [_broadcast(row) for row in rows.all()]

    async def due_for_planning(self, *, now: datetime) -> list[int]:
        """Approved broadcasts whose time has come, and those still being queued."""
        query = select(Broadcast.id).where(
            or_(
                and_(
                    Broadcast.status == "approved",
                    or_(Broadcast.send_at.is_(None), Broadcast.send_at <= now),
                ),
                and_(Broadcast.status == "sending", Broadcast.planning_done.is_(False)),
            )
        )
        return list((await self._db.execute(query.order_by(Broadcast.id))).scalars())

    async def sending_ids(self) -> list[int]:
        """Broadcasts fully queued and still sending."""
        return list((await self._db.execute(
            select(Broadcast.id).where(
                Broadcast.status == "sending", Broadcast.planning_done.is_(True)
            )
        )).scalars())

    async def with_progress_message(self, *, finished_since: datetime) -> list[BroadcastRecord]:
        """Broadcasts showing a progress message: running, or finished since `finished_since`."""
        rows = await self._db.execute(
            select(*_BROADCAST).where(
                Broadcast.progress_message_id.is_not(None),
                Broadcast.status.in_(["approved", "sending", "done", "cancelled"]),
                or_(Broadcast.finished_at.is_(None), Broadcast.finished_at >= finished_since),
            )
        )
        return [_broadcast(row) for row in rows.all()]

    async def delivery_counts(self, broadcast_id: int) -> dict[str, int]:
        """The broadcast's outbox rows by state."""
        rows = await self._db.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.status)
        )
        return {status: int(count) for status, count in rows.all()}

    async def open_rows(self, broadcast_id: int) -> int:
        """The broadcast's outbox rows still pending or being sent."""
        return int((await self._db.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.broadcast_id == broadcast_id,
                OutboxMessage.status.in_(["pending", "sending"]),
            )
        )).scalar() or 0)

    # --- segments --------------------------------------------------------------------------

    async def count_chats(self, kind: str, debt_kind: str | None) -> int:
        """The chats of a segment (the superset, for segments that need the law's clock)."""
        return int((await self._db.execute(
            select(func.count()).select_from(Chat).where(_segment_condition(kind, debt_kind))
        )).scalar() or 0)

    async def chat_ids(
        self, kind: str, debt_kind: str | None, *, after: int | None, limit: int
    ) -> list[int]:
        """The next `limit` chat ids of a segment after `after`, in order."""
        query = select(Chat.id).where(_segment_condition(kind, debt_kind))
        if after is not None:
            query = query.where(Chat.id > after)
        return list((await self._db.execute(query.order_by(Chat.id).limit(limit))).scalars())

    async def batch_end(
        self, kind: str, debt_kind: str | None, *, after: int | None, limit: int
    ) -> int | None:
        """The last chat id of the next batch of `limit` chats after `after`, or None."""
        inner = select(Chat.id).where(_segment_condition(kind, debt_kind))
        if after is not None:
            inner = inner.where(Chat.id > after)
        inner = inner.order_by(Chat.id).limit(limit).subquery()
        return (await self._db.execute(select(func.max(inner.c.id)))).scalar()

    async def open_debts_of_chats(self, chat_ids: Sequence[int]) -> list[tuple[int, Debt]]:
        """(chat id, open debt) for every open debt held through the chats' links."""
        if not chat_ids:
            return []
        rows = await self._db.execute(
            select(ChatLink.chat_id, *DEBT_COLUMNS)
            .join(DebtRow, _holds(DebtRow.status == OPEN))
            .where(ChatLink.chat_id.in_(list(chat_ids)))
        )
        return [(row[0], debt_from_row(row)) for row in rows.all()]

    async def recipient_facts(self, chat_ids: Sequence[int]) -> dict[int, RecipientFacts]:
        """Per chat: language, discreet, names of its verified identities, open debts."""
        if not chat_ids:
            return {}
        facts: dict[int, RecipientFacts] = {}
        for chat_id, language, discreet in (await self._db.execute(
            select(Chat.id, Chat.language, Chat.discreet).where(Chat.id.in_(list(chat_ids)))
        )).all():
            facts[chat_id] = RecipientFacts(language, bool(discreet))
        names = await self._db.execute(
            select(ChatLink.chat_id, func.coalesce(Company.name, Person.name))
            .outerjoin(Person, Person.id == ChatLink.person_id)
            .outerjoin(Company, Company.id == ChatLink.company_id)
            .where(ChatLink.chat_id.in_(list(chat_ids)))
            .order_by(ChatLink.chat_id, ChatLink.id)
        )
        for chat_id, name in names.all():
            if chat_id in facts and name:
                facts[chat_id].names.append(name)
        for chat_id, debt in await self.open_debts_of_chats(chat_ids):
            if chat_id in facts:
                facts[chat_id].debts.append(debt)
        return facts

    # --- templates -------------------------------------------------------------------------

    async def save_template(self, *, name: str, bodies: dict[str, str], by: str) -> int:
        """Create or edit a template; an edit that changes a text is a new version. Returns
        the current version."""
        new = {lang: bodies.get(lang, "") for lang in ("el", "en", "tr")}
        columns = {"body_el": new["el"], "body_en": new["en"], "body_tr": new["tr"],
                   "updated_by": by}
        row = (await self._db.execute(
            select(*_TEMPLATE).where(NoticeTemplateRow.name == name)
        )).first()
        if row is None:
            template_id = (await self._db.execute(
                insert(NoticeTemplateRow).values(name=name, version=1, **columns)
                .returning(NoticeTemplateRow.id)
            )).scalar_one()
            version = 1
        elif _bodies(row) == new:
            return int(row.version)
        else:
            template_id, version = row.id, (row.version or 1) + 1
            await self._db.execute(
                update(NoticeTemplateRow).where(NoticeTemplateRow.id == template_id)
                .values(version=version, **columns)
            )
        await self._db.execute(insert(NoticeTemplateVersion).values(
            template_id=template_id, version=version, body_el=new["el"], body_en=new["en"],
            body_tr=new["tr"], created_by=by,
        ))
        return version

    async def template(self, name: str) -> TemplateRecord | None:
        row = (await self._db.execute(
            select(*_TEMPLATE).where(NoticeTemplateRow.name == name)
        )).first()
        return None if row is None else _template(row)

    async def templates(self) -> list[TemplateRecord]:
        """By name."""
        rows = await self._db.execute(select(*_TEMPLATE).order_by(NoticeTemplateRow.name))
        return [_template(row) for row in rows.all()]

    async def template_versions(self, name: str) -> list[TemplateRecord]:
        """Every version of a template, newest first."""
        rows = await self._db.execute(
            select(NoticeTemplateVersion.version, NoticeTemplateVersion.body_el,
                   NoticeTemplateVersion.body_en, NoticeTemplateVersion.body_tr,
                   NoticeTemplateVersion.created_by, NoticeTemplateVersion.created_at)
            .join(NoticeTemplateRow, NoticeTemplateRow.id == NoticeTemplateVersion.template_id)
            .where(NoticeTemplateRow.name == name)
            .order_by(NoticeTemplateVersion.version.desc())
        )
        return [
            TemplateRecord(name, {"el": v.body_el, "en": v.body_en, "tr": v.body_tr}, v.version,
                           v.created_by, v.created_at)
            for v in rows.all()
        ]

    # --- notices ---------------------------------------------------------------------------

    async def add_notice(
        self, *, key: str, template: str, template_version: int | None, subject: str,
        created_by: str, created_at: datetime, chats: int, queued: int,
    ) -> int:
        """Record a notice sent to one person; its number."""
        return int((await self._db.execute(
            insert(Notice).values(
                key=key, template=template, template_version=template_version,
                subject=subject, created_by=created_by, created_at=created_at, chats=chats,
                queued=queued,
            ).returning(Notice.id)
        )).scalar_one())

    async def notice_by_key(self, key: str) -> int | None:
        return (await self._db.execute(select(Notice.id).where(Notice.key == key))).scalar()

    async def notice(self, notice_id: int) -> NoticeRecord | None:
        row = (await self._db.execute(select(*_NOTICE).where(Notice.id == notice_id))).first()
        return None if row is None else NoticeRecord(*row)

    async def notices(self, *, limit: int) -> list[NoticeRecord]:
        """Newest first."""
        rows = await self._db.execute(select(*_NOTICE).order_by(Notice.id.desc()).limit(limit))
        return [NoticeRecord(*row) for row in rows.all()]

    async def sent_payload(self, *, dedupe_key: str, chat_id: int) -> dict[str, Any] | None:
        """The payload of one chat's outbox row, or None (never queued, or purged)."""
        return (await self._db.execute(
            select(OutboxMessage.payload).where(
                OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.chat_id == chat_id
            )
        )).scalar()

    # --- recipients of notices -------------------------------------------------------------

    async def holder_by_hash(
        self, *, id_hash: str | Sequence[str], company: bool
    ) -> Holder | None:
        """The holder filed under this hash (or any of these: the current key's, the
        previous)."""
        hashes = [id_hash] if isinstance(id_hash, str) else list(id_hash)
        if company:
            row = (await self._db.execute(
                select(Company.id, Company.name).where(Company.reg_hash.in_(hashes))
                .order_by(Company.id).limit(1)
            )).first()
            return None if row is None else Holder("company", row.id, row.name)
        row = (await self._db.execute(
            select(Person.id, Person.name).where(Person.id_hash.in_(hashes))
            .order_by(Person.id).limit(1)
        )).first()
        return None if row is None else Holder("person", row.id, row.name)

    async def holders_for_chat(self, chat_id: int) -> list[Holder]:
        """The persons and companies a chat has verified, in link order."""
        rows = await self._db.execute(
            select(ChatLink.person_id, ChatLink.company_id, Person.name, Company.name)
            .outerjoin(Person, Person.id == ChatLink.person_id)
            .outerjoin(Company, Company.id == ChatLink.company_id)
            .where(ChatLink.chat_id == chat_id)
            .order_by(ChatLink.id)
        )
        holders: list[Holder] = []
        for person_id, company_id, person_name, company_name in rows.all():
            if company_id is not None:
                if company_name is not None:
                    holders.append(Holder("company", company_id, company_name))
            elif person_id is not None and person_name is not None:
                holders.append(Holder("person", person_id, person_name))
        return holders

    async def debts_by_reference(
        self, *, reference: str, source: str | None
    ) -> list[tuple[Debt, Holder]]:
        """The debts with this reference (from this registry), with their holders."""
        query = (
            select(*DEBT_COLUMNS, DebtRow.person_id, DebtRow.company_id, Person.name.label("pn"),
                   Company.name.label("cn"))
            .outerjoin(Person, Person.id == DebtRow.person_id)
            .outerjoin(Company, Company.id == DebtRow.company_id)
            .where(DebtRow.reference == reference)
        )
        if source:
            query = query.where(DebtRow.source == source)
        found: list[tuple[Debt, Holder]] = []
        for row in (await self._db.execute(query.order_by(DebtRow.id))).all():
            if row.company_id is not None:
                if row.cn is not None:
                    found.append((debt_from_row(row), Holder("company", row.company_id, row.cn)))
            elif row.person_id is not None and row.pn is not None:
                found.append((debt_from_row(row), Holder("person", row.person_id, row.pn)))
        return found

    async def linked_chats(self, holders: Sequence[Holder]) -> tuple[int, int]:
        """(chats linked to the holders, of which active): why a notice would reach nobody."""
        conditions = _holder_links(holders)
        if not conditions:
            return 0, 0
        rows = (await self._db.execute(
            select(Chat.id, Chat.active).join(ChatLink, ChatLink.chat_id == Chat.id)
            .where(or_(*conditions)).distinct()
        )).all()
        return len(rows), sum(1 for _chat, active in rows if active)

    async def chats_for_holders(self, holders: Sequence[Holder]) -> list[RecipientChat]:
        """Active chats linked to any of the holders, by chat id."""
        conditions = _holder_links(holders)
        if not conditions:
            return []
        rows = await self._db.execute(
            select(Chat.id, Chat.language, Chat.discreet)
            .join(ChatLink, ChatLink.chat_id == Chat.id)
            .where(Chat.active.is_(True), or_(*conditions))
            .distinct()
            .order_by(Chat.id)
        )
        return [RecipientChat(chat_id, language, bool(discreet))
                for chat_id, language, discreet in rows.all()]
