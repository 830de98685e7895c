"""Proving who you are, one step at a time, with the dialogue's state in the database.

Individuals give an identity number (ID card, ARC or passport), their date of birth, and then
everyone shares their own Telegram contact; nothing is checked before that. The number, the
date and (when the registry holds one) the phone are then matched as keyed hashes at once,
and one answer covers an unknown number, a wrong date and a phone that does not match:
whether the registry holds a phone for someone never shows from the dialogue. After a
failure the dialogue stays at the contact step, so sharing the contact again (or /start to
type the details again) is always a way on.
Companies give their registration number and the reference of any notice issued to them.
A deep-link token minted by a government portal links a chat in one step, and so does
signing in with CY Login (services.signin), which also works while guessing has locked the
number or the chat: the lock message offers it.

Guard against guessing: the reply and the work done (the same queries, a constant-time
compare) are identical whether the identifier is unknown, the date of birth is wrong or the
phone does not match.
Failures lock the chat (5 in 24 h) and the identifier (10 in 24 h, from any chat) for 24 h.
Every attempt is audited with a prefix of the identifier's keyed hash only.

A person who represents companies does not get those companies by proving who they are:
each company is verified on its own, with a notice reference only the company received.
The registry's list of representatives can be stale (a director who resigned), and a notice
reference is evidence of access to the company's post today.

The dialogue row is optimistically versioned: each step writes `version = v + 1 WHERE
version = v` in the same transaction as its attempt, audit entry and link. If another bot
instance moved the dialogue on first, the whole step rolls back and is retried once against
the new state, so two instances racing on one chat never both apply a step.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers

from debtbot.domain.dates import InvalidDate, looks_like_date, parse_date_of_birth
from debtbot.domain.identifiers import (
    PERSON_ID_TYPES,
    IdType,
    InvalidIdentifier,
    normalise_identifier,
    recognise,
)
from debtbot.services import signin
from debtbot.services.deps import Deps
from debtbot.services.link_tokens import TokenInvalid, mint_link_token, read_link_token
from debtbot.store.unit_of_work import UnitOfWork

__all__ = [
    "Outcome",
    "Step",
    "VerificationReply",
    "cancel_verification",
    "choose_holder",
    "choose_id_type",
    "mint_link_token",
    "purge_stale",
    "redeem_link_token",
    "restart_if_under_way",
    "start_verification",
    "submit_contact",
    "submit_text",
]

FLOW = "verify"
DIALOGUE_TTL = timedelta(minutes=30)
MAX_TEXT_CHARS = 100  # nothing a citizen types in this dialogue is longer
_NO_HASH = "0" * 64  # what is compared when there is nothing on file to compare with
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_\-]{0,63}$")
_HASH_PREFIX = 12  # characters of the keyed hash kept in the audit log


class Step(StrEnum):
    CHOOSE_HOLDER = "choose_holder"
    CHOOSE_ID_TYPE = "choose_id_type"
    ID_NUMBER = "id_number"
    DATE_OF_BIRTH = "date_of_birth"
    CONTACT = "contact"
    COMPANY_NUMBER = "company_number"
    NOTICE_REFERENCE = "notice_reference"


class Outcome(StrEnum):
    ASK = "ask"
    INVALID_INPUT = "invalid_input"
    VERIFIED = "verified"
    NOT_MATCHED = "not_matched"
    LOCKED = "locked"
    TOO_MANY_IDENTITIES = "too_many_identities"
    CONTACT_NOT_OWN = "contact_not_own"
    ALREADY_LINKED = "already_linked"
    NO_DIALOGUE = "no_dialogue"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - an outcome, not a secret


@dataclass(frozen=True, slots=True)
class VerificationReply:
    outcome: Outcome
    step: Step | None = None
    problem: str | None = None
    display_name: str | None = None
    locked_until: datetime | None = None
    signin_url: str | None = None  # "Sign in with CY Login", when it is configured
    cy_login: bool = False  # CY Login is there to mention (where no button can go)
    # /start came while a dialogue was under way and began it again (how to say it, not
    # what happened: left out of equality).
    restarted: bool = field(default=False, compare=False)
    id_type: str | None = None  # the document the step asks about
    choices: tuple[str, ...] = ()  # CHOOSE_ID_TYPE after an ambiguous number: these only


class _Conflict(Exception):
    """Another instance moved this chat's dialogue on first."""


@dataclass(slots=True)
class _Dialogue:
    version: int | None  # of the chat's conversation row, whatever its flow; None: no row
    step: Step | None  # None: no verification dialogue under way
    data: dict[str, Any] = field(default_factory=dict)


def _ask(step: Step) -> VerificationReply:
    return VerificationReply(Outcome.ASK, step=step)


def _invalid(step: Step | None, problem: str) -> VerificationReply:
    return VerificationReply(Outcome.INVALID_INPUT, step=step, problem=problem)


# --- running a step -----------------------------------------------------------------------

_Action = Callable[[UnitOfWork, datetime, _Dialogue], Awaitable[VerificationReply]]


async def _run(deps: Deps, chat_id: int, action: _Action) -> VerificationReply:
    for _ in range(2):
        now = deps.clock()
        try:
            async with deps.uow() as uow:
                dialogue = await _load(uow, chat_id, now)
                return await action(uow, now, dialogue)
        except _Conflict:
            continue
    async with deps.uow() as uow:
        dialogue = await _load(uow, chat_id, deps.clock())
    return _ask(dialogue.step) if dialogue.step else VerificationReply(Outcome.NO_DIALOGUE)


async def _load(uow: UnitOfWork, chat_id: int, now: datetime) -> _Dialogue:
    state = await uow.dialogues.conversation(chat_id)
    if state is None:
        return _Dialogue(None, None)
    if state.flow != FLOW or (state.expires_at is not None and state.expires_at <= now):
        return _Dialogue(state.version, None)
    try:
        step = Step(state.step)
    except ValueError:
        return _Dialogue(state.version, None)
    return _Dialogue(state.version, step, state.data)


async def _save(
    uow: UnitOfWork,
    chat_id: int,
    dialogue: _Dialogue,
    step: Step,
    data: dict[str, Any],
    now: datetime,
) -> None:
    saved = await uow.dialogues.save_conversation(
        chat_id,
        expected_version=dialogue.version,
        flow=FLOW,
        step=step.value,
        data=data,
        expires_at=now + DIALOGUE_TTL,
    )
    if not saved:
        raise _Conflict


async def _end(uow: UnitOfWork, chat_id: int, dialogue: _Dialogue) -> None:
    if dialogue.version is None:
        return
    if not await uow.dialogues.end_conversation(chat_id, expected_version=dialogue.version):
        raise _Conflict


# --- the guard ----------------------------------------------------------------------------


def lock_expiry(
    failures: Sequence[datetime], *, threshold: int, window: timedelta
) -> datetime | None:
    """When the lock the failures earned ends: `threshold` failures within `window` lock for
    `window` from the last of them. None if they earned none. `failures` sorted ascending."""
    expiry: datetime | None = None
    for index in range(threshold - 1, len(failures)):
        if failures[index] - failures[index - threshold + 1] <= window:
            candidate = failures[index] + window
            expiry = candidate if expiry is None or candidate > expiry else expiry
    return expiry


async def _locked_until(
    uow: UnitOfWork, deps: Deps, *, chat_id: int, id_hash: str | None, now: datetime
) -> datetime | None:
    settings = deps.settings
    window = timedelta(hours=settings.verify_window_hours)
    since = now - 2 * window  # failures older than that cannot hold a lock in force
    chat_failures = await uow.dialogues.chat_failures_since(chat_id, since=since)
    ends = [lock_expiry(chat_failures, threshold=settings.verify_chat_failures, window=window)]
    if id_hash is not None:
        id_failures = await uow.dialogues.identifier_failures_since(id_hash, since=since)
        ends.append(
            lock_expiry(id_failures, threshold=settings.verify_identifier_failures, window=window)
        )
    in_force = [end for end in ends if end is not None and end > now]
    return max(in_force) if in_force else None


async def _audit(
    uow: UnitOfWork,
    *,
    chat_id: int,
    action: str,
    method: str,
    result: str,
    hash_prefix: str | None,
    now: datetime,
) -> None:
    details: dict[str, Any] = {"method": method, "result": result}
    if hash_prefix:
        details["id_hash"] = hash_prefix[:_HASH_PREFIX]
    await uow.audit.record(
        actor=f"chat:{chat_id}", action=action, count=1, details=details, at=now
    )


async def _refuse_if_locked(
    uow: UnitOfWork,
    deps: Deps,
    *,
    chat_id: int,
    dialogue: _Dialogue,
    id_hash: str | None,
    action: str,
    method: str,
    now: datetime,
) -> VerificationReply | None:
    locked = await _locked_until(uow, deps, chat_id=chat_id, id_hash=id_hash, now=now)
    if locked is None:
        return None
    await _audit(
        uow, chat_id=chat_id, action=action, method=method, result="locked",
        hash_prefix=id_hash, now=now,
    )
    await _end(uow, chat_id, dialogue)
    return await _locked(uow, deps, chat_id=chat_id, until=locked, now=now)


async def _locked(
    uow: UnitOfWork, deps: Deps, *, chat_id: int, until: datetime, now: datetime,
    bot_username: str = "",
) -> VerificationReply:
    # Guessing cannot lock anyone out of CY Login: it proves who they are on its own.
    url = await signin.offer(
        uow, deps, chat_id=chat_id, now=now, bot_username=bot_username
    )
    return VerificationReply(Outcome.LOCKED, locked_until=until, signin_url=url)


async def _after_failure(
    uow: UnitOfWork,
    deps: Deps,
    *,
    chat_id: int,
    dialogue: _Dialogue,
    id_hash: str | None,
    outcome: Outcome,
    retry: tuple[Step, dict[str, Any]] | None,
    now: datetime,
) -> VerificationReply:
    locked = await _locked_until(uow, deps, chat_id=chat_id, id_hash=id_hash, now=now)
    if locked is not None:
        await _end(uow, chat_id, dialogue)
        return await _locked(uow, deps, chat_id=chat_id, until=locked, now=now)
    if retry is None:
        await _end(uow, chat_id, dialogue)
        return VerificationReply(outcome)
    step, data = retry
    await _save(uow, chat_id, dialogue, step, data, now)
    return VerificationReply(outcome, step=step)


async def _link(
    uow: UnitOfWork,
    deps: Deps,
    *,
    chat_id: int,
    dialogue: _Dialogue,
    person_id: int | None,
    company_id: int | None,
    name: str,
    verified_by: str,
) -> VerificationReply:
    if await uow.chats.holds(chat_id, person_id=person_id, company_id=company_id):
        await _end(uow, chat_id, dialogue)
        return VerificationReply(Outcome.ALREADY_LINKED, display_name=name)
    if await uow.chats.identity_count(chat_id) >= deps.settings.identities_per_chat:
        await _end(uow, chat_id, dialogue)
        return VerificationReply(Outcome.TOO_MANY_IDENTITIES)
    await uow.chats.ensure(chat_id, language="en")
    if company_id is not None:
        await uow.chats.link_company(chat_id, company_id=company_id, verified_by=verified_by)
    else:
        assert person_id is not None
        await uow.chats.link_person(chat_id, person_id=person_id, verified_by=verified_by)
    await _end(uow, chat_id, dialogue)
    return VerificationReply(Outcome.VERIFIED, display_name=name)


# --- the dialogue -------------------------------------------------------------------------


async def start_verification(
    deps: Deps, *, chat_id: int, bot_username: str = ""
) -> VerificationReply:
    """Begin (or begin again): offer CY Login when it is configured, and ask whether the
    chat proves a person or a company."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        locked = await _locked_until(uow, deps, chat_id=chat_id, id_hash=None, now=now)
        if locked is not None:
            return await _locked(
                uow, deps, chat_id=chat_id, until=locked, now=now, bot_username=bot_username
            )
        if await uow.chats.identity_count(chat_id) >= deps.settings.identities_per_chat:
            return VerificationReply(Outcome.TOO_MANY_IDENTITIES)
        await _save(uow, chat_id, dialogue, Step.CHOOSE_HOLDER, {}, now)
        url = await signin.offer(
            uow, deps, chat_id=chat_id, now=now, bot_username=bot_username
        )
        return VerificationReply(
            Outcome.ASK, step=Step.CHOOSE_HOLDER, signin_url=url,
            restarted=dialogue.step is not None,
        )

    return await _run(deps, chat_id, action)


async def restart_if_under_way(deps: Deps, *, chat_id: int) -> VerificationReply | None:
    """/start in a verified chat: begin again if a dialogue is under way, else None."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        if dialogue.step is None:
            return VerificationReply(Outcome.NO_DIALOGUE)
        await _save(uow, chat_id, dialogue, Step.CHOOSE_HOLDER, {}, now)
        return VerificationReply(Outcome.ASK, step=Step.CHOOSE_HOLDER, restarted=True)

    reply = await _run(deps, chat_id, action)
    return None if reply.outcome is Outcome.NO_DIALOGUE else reply


async def choose_holder(deps: Deps, *, chat_id: int, holder: str) -> VerificationReply:
    """"person" → which identity document; "company" → its registration number."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        if dialogue.step is None:
            return VerificationReply(Outcome.NO_DIALOGUE)
        if holder == "person":
            await _save(uow, chat_id, dialogue, Step.CHOOSE_ID_TYPE, {"holder": holder}, now)
            return _ask(Step.CHOOSE_ID_TYPE)
        if holder == "company":
            await _save(uow, chat_id, dialogue, Step.COMPANY_NUMBER, {"holder": holder}, now)
            return _ask(Step.COMPANY_NUMBER)
        return _invalid(dialogue.step, "bad_choice")

    return await _run(deps, chat_id, action)


async def choose_id_type(deps: Deps, *, chat_id: int, id_type: str) -> VerificationReply:
    """"id_card", "arc" or "passport" → ask for its number."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        if dialogue.step is None or dialogue.data.get("holder") != "person":
            return VerificationReply(Outcome.NO_DIALOGUE)
        if id_type not in {kind.value for kind in PERSON_ID_TYPES}:
            return _invalid(dialogue.step, "bad_choice")
        candidates = dialogue.data.get("candidates") or {}
        if id_type in candidates:  # the number was typed first: its hash for this kind
            return await _person_hash(
                uow, deps, chat_id, dialogue, id_type,
                [str(h) for h in candidates[id_type]], now,
            )
        data = {"holder": "person", "id_type": id_type}
        await _save(uow, chat_id, dialogue, Step.ID_NUMBER, data, now)
        return _ask(Step.ID_NUMBER)

    return await _run(deps, chat_id, action)


def _text_problem(text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "not_text"
    if len(text) > MAX_TEXT_CHARS:
        return "too_long"
    return None


async def submit_text(deps: Deps, *, chat_id: int, text: str | None) -> VerificationReply:
    """Whatever the current step expects: a number, a date of birth or a notice reference."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        step = dialogue.step
        if step is None:
            return VerificationReply(Outcome.NO_DIALOGUE)
        problem = _text_problem(text)
        if problem is not None:
            return _invalid(step, problem)
        assert isinstance(text, str)
        if step is Step.ID_NUMBER:
            return await _person_number(uow, deps, chat_id, dialogue, text, now)
        if step is Step.DATE_OF_BIRTH:
            return await _date_of_birth(uow, deps, chat_id, dialogue, text, now)
        if step is Step.COMPANY_NUMBER:
            return await _company_number(uow, deps, chat_id, dialogue, text, now)
        if step is Step.NOTICE_REFERENCE:
            return await _notice_reference(uow, deps, chat_id, dialogue, text, now)
        if step in (Step.CHOOSE_HOLDER, Step.CHOOSE_ID_TYPE):
            return await _typed_number(uow, deps, chat_id, dialogue, text, now)
        # The contact step: typing cannot answer it.
        return _ask(step)

    return await _run(deps, chat_id, action)


# Why a number does not fit the document chosen, by document.
_WRONG_SHAPE = {
    IdType.ID_CARD.value: "bad_id_card",
    IdType.ARC.value: "bad_arc",
    IdType.PASSPORT.value: "bad_passport",
    IdType.COMPANY_REG.value: "bad_company_number",
}


def _wrong_shape(step: Step, id_type: str | None) -> VerificationReply:
    problem = _WRONG_SHAPE.get(id_type or "", "bad_identifier")
    return VerificationReply(Outcome.INVALID_INPUT, step=step, problem=problem, id_type=id_type)


async def _typed_number(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, text: str,
    now: datetime,
) -> VerificationReply:
    """A number typed where a button was expected (straight after /start): its kind is read
    from its shape; asked only when the shape fits more than one (an ID card or an ARC)."""
    step = dialogue.step
    assert step is not None
    if looks_like_date(text):
        return _invalid(step, "date_first")
    kinds = recognise(text)
    if dialogue.data.get("holder") == "person":
        kinds = tuple(kind for kind in kinds if kind is not IdType.COMPANY_REG)
    if not kinds:
        return _invalid(step, "not_a_number")
    if kinds == (IdType.COMPANY_REG,):
        company = _Dialogue(dialogue.version, Step.COMPANY_NUMBER, {"holder": "company"})
        return await _company_number(uow, deps, chat_id, company, text, now)
    keyring = deps.settings.keyring
    if len(kinds) == 1:
        identifier = normalise_identifier(kinds[0], text)
        return await _person_hash(
            uow, deps, chat_id, dialogue, identifier.id_type.value,
            list(keyring.identifier_hashes(identifier)), now,
        )
    # Only the keyed hashes are kept while the citizen says which document it is.
    candidates = {
        kind.value: list(keyring.identifier_hashes(normalise_identifier(kind, text)))
        for kind in kinds
    }
    data = {"holder": "person", "candidates": candidates}
    await _save(uow, chat_id, dialogue, Step.CHOOSE_ID_TYPE, data, now)
    return VerificationReply(
        Outcome.ASK, step=Step.CHOOSE_ID_TYPE, choices=tuple(kind.value for kind in kinds)
    )


async def _person_number(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, text: str,
    now: datetime,
) -> VerificationReply:
    id_type = dialogue.data.get("id_type")
    if looks_like_date(text):
        return VerificationReply(
            Outcome.INVALID_INPUT, step=Step.ID_NUMBER, problem="date_first", id_type=id_type
        )
    try:
        identifier = normalise_identifier(str(id_type), text)
    except (InvalidIdentifier, ValueError):
        return _wrong_shape(Step.ID_NUMBER, str(id_type))
    return await _person_hash(
        uow, deps, chat_id, dialogue, identifier.id_type.value,
        list(deps.settings.keyring.identifier_hashes(identifier)), now,
    )


async def _person_hash(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, id_type: str,
    id_hashes: list[str], now: datetime,
) -> VerificationReply:
    """The number as every key in use hashes it (the current key first): the row may not have
    moved to the current key yet. Only hashes go into the dialogue's row."""
    id_hash = id_hashes[0]
    refused = await _refuse_if_locked(
        uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=id_hash,
        action="verify.person", method="dob", now=now,
    )
    if refused:
        return refused
    data = {"holder": "person", "id_type": id_type, "id_hash": id_hash, "id_hashes": id_hashes}
    await _save(uow, chat_id, dialogue, Step.DATE_OF_BIRTH, data, now)
    return _ask(Step.DATE_OF_BIRTH)


async def _date_of_birth(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, text: str,
    now: datetime,
) -> VerificationReply:
    """Nothing is checked yet: the date is kept (as a hash under each key, bound to the
    number's hash under that key) and everyone is asked for their contact."""
    today = now.astimezone(deps.settings.tz).date()
    try:
        born = parse_date_of_birth(text, today=today)
    except InvalidDate as problem:
        return _invalid(Step.DATE_OF_BIRTH, problem.problem)
    id_hash = str(dialogue.data.get("id_hash", ""))
    refused = await _refuse_if_locked(
        uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=id_hash,
        action="verify.person", method="dob", now=now,
    )
    if refused:
        return refused
    id_hashes = [str(h) for h in dialogue.data.get("id_hashes", [id_hash])]
    born_hashes = [
        key.date_of_birth(hashed, born)
        for key, hashed in zip(deps.settings.keyring.keys, id_hashes, strict=False)
    ]
    data = {**dialogue.data, "born_hashes": born_hashes}
    await _save(uow, chat_id, dialogue, Step.CONTACT, data, now)
    return _ask(Step.CONTACT)


async def _company_number(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, text: str,
    now: datetime,
) -> VerificationReply:
    if looks_like_date(text):
        return _invalid(Step.COMPANY_NUMBER, "date_first")
    try:
        identifier = normalise_identifier(IdType.COMPANY_REG, text)
    except (InvalidIdentifier, ValueError):
        return _wrong_shape(Step.COMPANY_NUMBER, IdType.COMPANY_REG.value)
    reg_hashes = list(deps.settings.keyring.identifier_hashes(identifier))
    reg_hash = reg_hashes[0]
    refused = await _refuse_if_locked(
        uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=reg_hash,
        action="verify.company", method="notice", now=now,
    )
    if refused:
        return refused
    data = {"holder": "company", "id_hash": reg_hash, "id_hashes": reg_hashes}
    await _save(uow, chat_id, dialogue, Step.NOTICE_REFERENCE, data, now)
    return _ask(Step.NOTICE_REFERENCE)


async def _notice_reference(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, text: str,
    now: datetime,
) -> VerificationReply:
    reference = text.strip()
    if not _REFERENCE.match(reference):
        return _invalid(Step.NOTICE_REFERENCE, "bad_identifier")
    reg_hash = str(dialogue.data.get("id_hash", ""))
    refused = await _refuse_if_locked(
        uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=reg_hash,
        action="verify.company", method="notice", now=now,
    )
    if refused:
        return refused
    company = None
    for hashed in dialogue.data.get("id_hashes", [reg_hash]):  # every key, known or not
        found = await uow.dialogues.company_with_notice(
            reg_hash=str(hashed), reference=reference
        )
        company = company or found
    matched = company is not None
    await uow.dialogues.record_attempt(
        chat_id, id_hash=reg_hash, method="notice", succeeded=matched, at=now
    )
    await _audit(
        uow, chat_id=chat_id, action="verify.company", method="notice",
        result="matched" if matched else "not_matched", hash_prefix=reg_hash, now=now,
    )
    if company is None:
        return await _after_failure(
            uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=reg_hash,
            outcome=Outcome.NOT_MATCHED, retry=(Step.COMPANY_NUMBER, {"holder": "company"}),
            now=now,
        )
    current = deps.settings.keyring.current
    if company.key_id != current.key_id and company.reg_hash != reg_hash:
        # Filed under the previous key: the number just typed moves it to the current one.
        await uow.debts.rekey_company(company.id, reg_hash=reg_hash, key_id=current.key_id)
    return await _link(
        uow, deps, chat_id=chat_id, dialogue=dialogue, person_id=None,
        company_id=company.id, name=company.name, verified_by="notice",
    )


def _phone_readings(raw: str) -> list[str]:
    """E.164 readings of a phone number, likeliest first: as given (+357 by default), then,
    since Telegram sends contacts' numbers without the '+', as an international number."""
    text = (raw or "").strip()
    readings = [text]
    if text and not text.startswith(("+", "0")):
        readings.append("+" + text)
    found: list[str] = []
    for reading in readings:
        try:
            number = phonenumbers.parse(reading, "CY")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in found:
                found.append(e164)
    return found


async def submit_contact(
    deps: Deps,
    *,
    chat_id: int,
    phone: str,
    contact_user_id: int | None,
    sender_user_id: int,
) -> VerificationReply:
    """The contact shared with the request-contact button, the last step for everyone: it
    must be the sender's own; then the number, the date of birth and (when the registry holds
    one) the phone are checked together."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        if dialogue.step is not Step.CONTACT:
            return VerificationReply(Outcome.NO_DIALOGUE)
        if contact_user_id is None or contact_user_id != sender_user_id:
            return VerificationReply(Outcome.CONTACT_NOT_OWN, step=Step.CONTACT)
        id_hash = str(dialogue.data.get("id_hash", ""))
        refused = await _refuse_if_locked(
            uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=id_hash,
            action="verify.person", method="dob", now=now,
        )
        if refused:
            return refused
        return await _check_person(uow, deps, chat_id, dialogue, phone, now)

    return await _run(deps, chat_id, action)


async def _check_person(
    uow: UnitOfWork, deps: Deps, chat_id: int, dialogue: _Dialogue, phone: str,
    now: datetime,
) -> VerificationReply:
    keyring = deps.settings.keyring
    id_hash = str(dialogue.data.get("id_hash", ""))
    id_hashes = [str(h) for h in dialogue.data.get("id_hashes", [id_hash])]
    born_hashes = [str(h) for h in dialogue.data.get("born_hashes", [])]
    readings = _phone_readings(phone)
    # The same statement, the same hashing and constant-time compares whether or not the
    # person exists, whether or not a phone is on file.
    person = await uow.dialogues.person_by_hashes(id_hashes)
    at = next(
        (i for i, key in enumerate(keyring.keys) if person and key.key_id == person.key_id), None
    )
    key = keyring.keys[at] if at is not None else keyring.current
    row_hash = person.id_hash if person is not None else id_hash
    born_given = born_hashes[at] if at is not None and at < len(born_hashes) else _NO_HASH
    born_on_file = (person.date_of_birth_hash if person else None) or _NO_HASH
    born_ok = hmac.compare_digest(born_given.encode(), born_on_file.encode())
    phone_on_file = person.phone_hash if person is not None else None
    shared = [key.phone(row_hash, reading) for reading in readings]
    phone_ok = any(
        hmac.compare_digest(candidate.encode(), (phone_on_file or _NO_HASH).encode())
        for candidate in shared
    )
    matched = (
        person is not None and at is not None and born_on_file != _NO_HASH and born_ok
        and (phone_on_file is None or phone_ok)
    )
    await uow.dialogues.record_attempt(
        chat_id, id_hash=id_hash, method="dob", succeeded=matched, at=now
    )
    await _audit(
        uow, chat_id=chat_id, action="verify.person", method="dob",
        result="matched" if matched else "not_matched", hash_prefix=id_hash, now=now,
    )
    if not matched or person is None:
        # The dialogue stays at the contact step with what was typed: the contact can be
        # shared again, or /start begins afresh.
        reply = await _after_failure(
            uow, deps, chat_id=chat_id, dialogue=dialogue, id_hash=id_hash,
            outcome=Outcome.NOT_MATCHED, retry=(Step.CONTACT, dialogue.data), now=now,
        )
        if reply.outcome is Outcome.NOT_MATCHED and deps.settings.oidc_enabled:
            reply = VerificationReply(Outcome.NOT_MATCHED, step=Step.CONTACT, cy_login=True)
        return reply
    if at != 0 and born_hashes:
        # Filed under the previous key: what was just typed lets it move to the current one.
        matching = next(
            r for r, h in zip(readings, shared, strict=True)
            if phone_on_file and hmac.compare_digest(h.encode(), phone_on_file.encode())
        ) if phone_on_file else None
        current = keyring.current
        await uow.debts.rekey_person(
            person.id, id_hash=id_hashes[0], key_id=current.key_id,
            date_of_birth_hash=born_hashes[0],
            phone_hash=current.phone(id_hashes[0], matching) if matching else None,
        )
    return await _link(
        uow, deps, chat_id=chat_id, dialogue=dialogue, person_id=person.id,
        company_id=None, name=person.name,
        verified_by="contact" if phone_on_file else "dob",
    )


async def cancel_verification(deps: Deps, *, chat_id: int) -> VerificationReply:
    """Drop the dialogue (attempts already made still count). Always NO_DIALOGUE after;
    `step` is the step that was under way (None: there was nothing to cancel)."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        if dialogue.step is not None:
            await _end(uow, chat_id, dialogue)
        return VerificationReply(Outcome.NO_DIALOGUE, step=dialogue.step)

    return await _run(deps, chat_id, action)


async def redeem_link_token(deps: Deps, *, chat_id: int, token: str) -> VerificationReply:
    """Link the chat to the identity a portal vouched for. Tokens are bearer credentials
    that cannot be guessed, so a chat locked for failed guesses may still use one."""

    async def action(uow: UnitOfWork, now: datetime, dialogue: _Dialogue) -> VerificationReply:
        try:
            claim = read_link_token(deps.settings, token, now=now)
        except TokenInvalid as invalid:
            return await _token_refused(uow, chat_id, invalid.reason, None, now)
        if claim.holder == "company":
            company = await uow.dialogues.company_by_hash_prefix(claim.hash_prefix)
            person = None
        else:
            person = await uow.dialogues.person_by_hash_prefix(claim.hash_prefix)
            company = None
        person_id = person.id if person else None
        company_id = company.id if company else None
        name = (company.name if company else person.name if person else "") or ""
        found = person is not None or company is not None
        if found and await uow.chats.holds(chat_id, person_id=person_id, company_id=company_id):
            await uow.dialogues.spend_link_token(
                claim.token_id, used_at=now, expires_at=claim.expires_at
            )
            await _audit(
                uow, chat_id=chat_id, action="verify.token", method="token",
                result="already_linked", hash_prefix=claim.hash_prefix, now=now,
            )
            return VerificationReply(Outcome.ALREADY_LINKED, display_name=name)
        if await uow.chats.identity_count(chat_id) >= deps.settings.identities_per_chat:
            return VerificationReply(Outcome.TOO_MANY_IDENTITIES)  # token kept for later
        if not await uow.dialogues.spend_link_token(
            claim.token_id, used_at=now, expires_at=claim.expires_at
        ):
            return await _token_refused(uow, chat_id, "used", claim.hash_prefix, now)
        await uow.dialogues.record_attempt(
            chat_id, id_hash=None, method="token", succeeded=found, at=now
        )
        await _audit(
            uow, chat_id=chat_id, action="verify.token", method="token",
            result="matched" if found else "unknown_identity", hash_prefix=claim.hash_prefix,
            now=now,
        )
        if not found:
            return VerificationReply(Outcome.NOT_MATCHED)
        # The token supersedes any dialogue under way in this chat.
        ongoing = dialogue if dialogue.step is not None else _Dialogue(None, None)
        return await _link(
            uow, deps, chat_id=chat_id, dialogue=ongoing, person_id=person_id,
            company_id=company_id, name=name, verified_by="token",
        )

    return await _run(deps, chat_id, action)


async def _token_refused(
    uow: UnitOfWork, chat_id: int, reason: str, hash_prefix: str | None, now: datetime
) -> VerificationReply:
    await uow.dialogues.record_attempt(
        chat_id, id_hash=None, method="token", succeeded=False, at=now
    )
    await _audit(
        uow, chat_id=chat_id, action="verify.token", method="token", result=reason,
        hash_prefix=hash_prefix, now=now,
    )
    return VerificationReply(Outcome.TOKEN_INVALID)


async def purge_stale(deps: Deps) -> dict[str, int]:
    """Housekeeping for a scheduler job: spent tokens past expiry, expired dialogues,
    attempts older than settings.retention_days (the guard needs only the last 48 hours), and
    CY Login sign-in requests a day past their expiry."""
    now = deps.clock()
    keep_attempts = max(
        timedelta(days=deps.settings.retention_days),
        2 * timedelta(hours=deps.settings.verify_window_hours),
    )
    async with deps.uow() as uow:
        tokens, dialogues, attempts = await uow.dialogues.purge_stale(
            now=now, flow=FLOW, attempts_before=now - keep_attempts
        )
    signins = await signin.purge_stale(deps)
    return {"link_tokens": tokens, "dialogues": dialogues, "attempts": attempts, **signins}
