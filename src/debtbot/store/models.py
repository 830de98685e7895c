"""The tables. Identity numbers, dates of birth and phone numbers appear only as keyed hashes
(`*_hash`, domain/keys.py), with the fingerprint of their key (`key_id`); times are UTC.

Enum-valued columns hold the domain enums' string values (plain VARCHAR, so adding a value
needs no migration on either database).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from debtbot.store.types import Cents, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime, Decimal: Cents}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=func.now(), onupdate=func.now()
    )


class Person(Timestamped, Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_type: Mapped[str] = mapped_column(String(16))
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC of type:number
    name: Mapped[str] = mapped_column(String(300), default="")
    # HMACs bound to id_hash (domain/keys.py): the registry's date of birth and phone (E.164).
    date_of_birth_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(2))
    key_id: Mapped[str] = mapped_column(String(16), default="")  # the key of all three hashes


class Company(Timestamped, Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reg_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str | None] = mapped_column(String(2))
    key_id: Mapped[str] = mapped_column(String(16), default="")


class CompanyRepresentative(Base):
    __tablename__ = "company_representatives"
    __table_args__ = (UniqueConstraint("company_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(100), default="")


class DebtRow(Timestamped, Base):
    __tablename__ = "debts"
    __table_args__ = (
        UniqueConstraint("source", "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    authority: Mapped[str] = mapped_column(String(200), default="")
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Cents)
    served_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="outstanding")
    points: Mapped[int | None] = mapped_column(Integer)
    surcharge_rate: Mapped[str | None] = mapped_column(String(12))  # a Decimal as text
    post_clearance: Mapped[bool] = mapped_column(Boolean, default=False)
    enforcement_suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    instalments_on_time: Mapped[bool] = mapped_column(Boolean, default=False)  # tax 9B/9Γ
    finding_notice_on: Mapped[date | None] = mapped_column(Date)  # admin fine, art. 23A(4)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # Type E note 1
    freeze_notified_on: Mapped[date | None] = mapped_column(Date)  # tax 9B(5)
    seized_on: Mapped[date | None] = mapped_column(Date)  # tax 9Γ(5)
    charge_notified_on: Mapped[date | None] = mapped_column(Date)  # tax 9Δ(4)
    # The registry's own dates, when it sends them: they win over the rulebook's.
    surcharge_on: Mapped[date | None] = mapped_column(Date)
    prosecution_on: Mapped[date | None] = mapped_column(Date)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Chat(Timestamped, Base):
    """A private chat with the bot (the Telegram chat id is the key)."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(String(2), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    discreet: Mapped[bool] = mapped_column(Boolean, default=False)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # News of new and changed debts and of thresholds passed (issue #16); on by default.
    news_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    muted_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChatLink(Base):
    """A verified identity held by a chat: a person, or a company the person represents."""

    __tablename__ = "chat_links"
    # A UNIQUE over (chat_id, person_id, company_id) lets duplicates through, since NULLs
    # never compare equal: one partial unique index per kind of link instead (both backends).
    __table_args__ = (
        CheckConstraint(
            "person_id IS NOT NULL OR company_id IS NOT NULL", name="identity_present"
        ),
        Index(
            "uq_chat_links_person",
            "chat_id",
            "person_id",
            unique=True,
            sqlite_where=text("company_id IS NULL"),
            postgresql_where=text("company_id IS NULL"),
        ),
        Index(
            "uq_chat_links_company",
            "chat_id",
            "company_id",
            unique=True,
            sqlite_where=text("company_id IS NOT NULL"),
            postgresql_where=text("company_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    verified_by: Mapped[str] = mapped_column(String(16))  # dob, contact, notice, token
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Conversation(Base):
    """Where a chat is in a dialogue; any bot instance can pick it up (DESIGN.md)."""

    __tablename__ = "conversations"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=func.now(), onupdate=func.now()
    )


class VerificationAttempt(Base):
    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_chat_at", "chat_id", "at"),
        Index("ix_verification_attempts_id_hash_at", "id_hash", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    id_hash: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsedLinkToken(Base):
    """Deep-link tokens are single use: a token's id is recorded when it is spent."""

    __tablename__ = "used_link_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInRequest(Base):
    """One "Sign in with CY Login" from a chat: the button's handle, then the OpenID Connect
    state, nonce and PKCE verifier of the browser's trip to the provider. Used once."""

    __tablename__ = "signin_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)  # in the button's link
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # The Telegram user who asked (a private chat's id is its user's): only that user's
    # press of the login_url button may go on to the provider.
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    # Telegram's auth_date of the last press that opened it: each press's data opens it once.
    telegram_auth_date: Mapped[int | None] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(2), default="en")
    bot_username: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str | None] = mapped_column(String(64), unique=True)
    nonce: Mapped[str | None] = mapped_column(String(64))
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    # SHA-256 of the cookie given to the browser that left for the provider: the callback
    # must come back in that browser (a provider link forwarded to someone else does not).
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """Every outgoing message is a row, planned once under a unique key (DESIGN.md)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "priority", "not_before"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # reply, reminder, notice, broadcast, receipt
    priority: Mapped[int] = mapped_column(Integer, default=50)  # lower goes first
    debt_id: Mapped[int | None] = mapped_column(Integer, index=True)
    broadcast_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class AuditEntry(Base):
    """Who did what, when, to how many. Never identity numbers, dates of birth or phones."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(100))  # cli, chat:<id>, staff:<id>, token:<id>
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")


class ApiToken(Base):
    """A bearer token for the HTTP API: only its SHA-256 is kept; shown once when created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # ingest, payments, ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Payment(Base):
    """A payment the provider reported; its reference is unique, so a replay is refused."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_ref: Mapped[str] = mapped_column(String(100), unique=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Cents)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    token_id: Mapped[int | None] = mapped_column(Integer)
    # Paid beyond what was due at the time: to be refunded (the citizen is told).
    refund_due: Mapped[Decimal | None] = mapped_column(Cents)


class DebtMessage(Base):
    """A message the bot sent a chat with debts and buttons on it: /forget turns its
    buttons into "no longer valid"."""

    __tablename__ = "debt_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffMember(Timestamped, Base):
    """Someone who may send notices (operator), broadcasts and approvals (supervisor), or
    manage staff (admin). Removing deactivates, so the audit log's actors stay explainable.
    """

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # operator, supervisor, admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    receives_tests: Mapped[bool] = mapped_column(Boolean, default=False)  # test-mode allow-list


class NoticeTemplateRow(Timestamped, Base):
    """A notice text in el, en and tr with {name}, {reference}, {amount}, {deadline}."""

    __tablename__ = "notice_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body_el: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    body_tr: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class NoticeTemplateVersion(Base):
    """Every saved edit of a template, kept: a notice or broadcast names the version it used."""

    __tablename__ = "notice_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("notice_templates.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    body_el: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    body_tr: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Notice(Base):
    """A notice to one person: its outbox rows carry the key ("notice:<key>:<chat id>")."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    template: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))  # person:<id>, company:<id>, chat:<id>
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    chats: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)


class ConsoleSession(Base):
    """A signed-in staff console session; the cookie holds a secret whose SHA-256 is `id`."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2), default="el")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Broadcast(Timestamped, Base):
    """A send to a segment (or a checked CSV notice list), approved before it goes out."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="segment")  # segment, csv
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    template: Mapped[str] = mapped_column(String(100), default="")
    template_version: Mapped[int | None] = mapped_column(Integer)
    bodies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # snapshot: lang -> body
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    rejected_by: Mapped[str | None] = mapped_column(String(100))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # A notice list waiting for approval: the checked CSV, checked again when approved.
    source_csv: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expected: Mapped[int | None] = mapped_column(Integer)  # dry-run count when approved
    planned_through: Mapped[int | None] = mapped_column(BigInteger)  # chat id cursor
    planning_done: Mapped[bool] = mapped_column(Boolean, default=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_language: Mapped[str] = mapped_column(String(2), default="en")
    progress_shown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PlannerState(Base):
    """How far the reminder planner has looked. After a restart it catches up from here, and
    reminders whose threshold passed meanwhile are recorded as dropped (LEGAL_RULES.md:
    a reminder after its threshold would mislead)."""

    __tablename__ = "planner_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    planned_until: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=func.now(), onupdate=func.now()
    )


class ProcessedUpdate(Base):
    """A Telegram update some instance has taken: a second delivery of the same update_id
    (a webhook retry, a poller taking over) is acknowledged and skipped. Purged after a day
    by the retention job."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SendBudget(Base):
    """The fleet's shared pace towards Telegram (PostgreSQL): the next free sending slot, in
    the database's clock (seconds since the epoch). Every instance reserves slots here before
    it sends, so together they keep one rate (a generic cell rate algorithm in one row)."""

    __tablename__ = "send_budget"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_at: Mapped[float] = mapped_column(Double)


class FleetCounter(Base):
    """Delivery events counted across the fleet for /metrics (possible duplicates, replies
    retried or queued), kept in the database because any instance may be the one that saw
    them."""

    __tablename__ = "fleet_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# The reminder planner filters open debts of one kind by their clock date (served_on, or
# due_on for tax) in SQL: these keep that a range scan over millions of debts.
Index("ix_debts_reminder_served", DebtRow.kind, DebtRow.status, DebtRow.served_on)
Index("ix_debts_reminder_due", DebtRow.kind, DebtRow.status, DebtRow.due_on)
