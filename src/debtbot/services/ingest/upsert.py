"""Writing validated debts: a batch of DebtRecords (a file's 5,000 rows, or one API call) goes
in through the DebtRepository in one unit of work, with its news, the cancellation of what
closed debts no longer need, and its audit entry; and cancelling debts by key.

Identity numbers, dates of birth and phones become keyed hashes here (domain/keys.py), before
anything reaches the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from debtbot.domain import registry_dates
from debtbot.domain.debts import OPEN_STATUSES, Debt, DebtStatus, HolderType
from debtbot.domain.identifiers import Identifier, IdType
from debtbot.domain.keys import HashKey, Keyring
from debtbot.domain.messages import OutboxPurpose
from debtbot.domain.rules import Rulebook
from debtbot.services.deps import Deps
from debtbot.services.ingest.validation import DebtRecord, Holder
from debtbot.services.plan_news import plan_closure_news, plan_debt_news
from debtbot.store.debts import DebtBatch, Previous

_DIFFERENCES_LISTED = 100  # per audit entry; the count holds them all


@dataclass(frozen=True, slots=True)
class IngestResult:
    inserted: int
    updated: int
    unchanged: int
    closed_debt_ids: tuple[int, ...] = ()
    cancelled_messages: int = 0
    news_planned: int = 0  # news of new and changed debts queued (issue #16)
    news_held_until: datetime | None = None  # not before then, unless released


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch worked out before its unit of work (a file import prepares the next batch in
    its reading thread while this one is written): holders hashed, debts as the repository
    takes them."""

    size: int  # rows in the batch
    debts: DebtBatch
    # Debts whose registry dates differ from the rulebook's: {"debt", "surcharge_on": [...]}.
    registry_dates_differ: list[dict[str, Any]] = field(default_factory=list)


async def upsert_debts(
    deps: Deps, records: Sequence[DebtRecord] | PreparedBatch, *, actor: str,
    audit_action: str | None = "debts.import", audit_details: Mapping[str, object] | None = None,
    durable: bool = True, news_hold: timedelta | None = None,
) -> IngestResult:
    """Insert or update a batch of debts (and their holders) in one unit of work.

    By (source, reference): new keys are inserted, changed ones updated, identical ones left
    untouched. A debt that goes from outstanding to paid/cancelled has its pending messages
    cancelled in the same transaction. One audit entry per call (counts only).
    `durable=False` (file imports) lets PostgreSQL return from the commit before it is flushed
    to disk: a server crash right after may lose the batch whole, never part of it, and
    importing the file again restores it. The news of new and changed debts for linked chats
    is queued in the same transaction (services.plan_news); `news_hold` keeps it back that
    long (a file import releases it when it has finished: IngestResult.news_held_until).
    """
    batch = (
        records if isinstance(records, PreparedBatch)
        else prepare_batch(records, deps.settings.keyring, rulebook=deps.rulebook)
    )
    async with deps.uow() as uow:
        now = deps.clock()
        changes = await uow.debts.upsert(batch.debts, now=now, durable=durable)
        # News of new and changed debts (issue #16), planned in this transaction; before the
        # closed debts' messages are cancelled, so a debt opened and closed unseen is no news.
        hold = now + news_hold if news_hold is not None else None
        news = await plan_debt_news(uow, deps.settings, changes, now=now,
                                    rulebook=deps.rulebook, hold=hold)
        cancelled = await uow.outbox.cancel(debt_ids=changes.closed_ids,
                                            except_purpose=OutboxPurpose.RECEIPT,
                                            reason="debt closed")
        if batch.registry_dates_differ:
            # The registry's dates win, but a difference from the law's count is worth a look.
            await uow.audit.record(
                actor=actor,
                action="debts.registry_dates_differ",
                count=len(batch.registry_dates_differ),
                details={"debts": batch.registry_dates_differ[:_DIFFERENCES_LISTED]},
                at=deps.clock(),
            )
        if audit_action:
            await uow.audit.record(
                actor=actor,
                action=audit_action,
                count=changes.inserted + changes.updated,
                details={
                    "rows": batch.size, "inserted": changes.inserted,
                    "updated": changes.updated, "unchanged": changes.unchanged,
                    "closed": len(changes.closed_ids), "messages_cancelled": cancelled,
                    "news": news, **(audit_details or {}),
                },
                at=deps.clock(),
            )
    return IngestResult(
        inserted=changes.inserted,
        updated=changes.updated,
        unchanged=changes.unchanged,
        closed_debt_ids=tuple(changes.closed_ids),
        cancelled_messages=cancelled,
        news_planned=news,
        news_held_until=hold if news else None,
    )


async def cancel_debts(
    deps: Deps,
    refs: Sequence[tuple[str, str]],
    *,
    actor: str,
    status: DebtStatus = DebtStatus.CANCELLED,
) -> int:
    """Close the open debts with these (source, reference) keys and cancel their pending
    messages, in one transaction. Returns how many debts changed (unknown keys are skipped).
    """
    if status in OPEN_STATUSES:
        raise ValueError("cancel_debts closes debts")
    now = deps.clock()
    async with deps.uow() as uow:
        closed = await uow.debts.close(list(dict.fromkeys(refs)), status=status, now=now)
        news = await plan_closure_news(uow, deps.settings, closed, now=now,
                                       rulebook=deps.rulebook)
        cancelled = await uow.outbox.cancel(debt_ids=closed, except_purpose=OutboxPurpose.RECEIPT,
                                            reason="debt closed")
        await uow.audit.record(
            actor=actor,
            action="debts.cancel",
            count=len(closed),
            details={"requested": len(refs), "closed": len(closed), "status": status.value,
                     "messages_cancelled": cancelled, "news": news},
            at=now,
        )
    return len(closed)


# ---------------------------------------------------------------- preparing a batch


def prepare_batch(
    records: Sequence[DebtRecord], keys: Keyring | str, *, rulebook: Rulebook
) -> PreparedBatch:
    """The records as the DebtRepository takes them, hashed under the current key (and, during
    a key rotation, the previous one). Needs no connection."""
    keyring = Keyring.of(keys) if isinstance(keys, str) else keys
    persons, companies, representatives, holders = _holders_under(records, keyring.current)
    debts = [
        {
            "source": record.source,
            "reference": record.reference,
            "holder": holder,
            "kind": record.kind.value,
            "authority": record.authority,
            "amount": record.amount,
            "served_on": record.served_on,
            "due_on": record.due_on,
            "status": record.status.value if record.status else None,
            "points": record.points,
            "surcharge_rate": record.surcharge_rate,
            "post_clearance": record.post_clearance,
            "enforcement_suspended": record.enforcement_suspended,
            "instalments_on_time": record.instalments_on_time,
            "finding_notice_on": record.finding_notice_on,
            "served_at": record.served_at,
            "freeze_notified_on": record.freeze_notified_on,
            "seized_on": record.seized_on,
            "charge_notified_on": record.charge_notified_on,
            "surcharge_on": record.surcharge_on,
            "prosecution_on": record.prosecution_on,
        }
        for record, holder in zip(records, holders, strict=True)
    ]
    previous_persons = previous_companies = None
    if keyring.previous is not None:
        previous_persons, previous_companies = _previous(records, keyring, persons, companies)
    return PreparedBatch(
        size=len(records),
        debts=DebtBatch(
            persons=persons, companies=companies, representatives=representatives,
            debts=debts, previous_persons=previous_persons,
            previous_companies=previous_companies,
        ),
        registry_dates_differ=_registry_differences(records, rulebook),
    )


class _Hashes:
    """The keyed hashes (the domain's, domain/keys.py) of the holders met under one key,
    remembered: a registry file lists a holder's debts one per row. Bounded: cleared when full.
    """

    MAX = 16_384

    def __init__(self, key: HashKey) -> None:
        self.key = key
        self._identifiers: dict[Identifier, str] = {}
        self._personal: dict[tuple[str, date | None, str | None],
                             tuple[str | None, str | None]] = {}

    def identifier(self, identifier: Identifier) -> str:
        found = self._identifiers.get(identifier)
        if found is None:
            if len(self._identifiers) >= self.MAX:
                self._identifiers.clear()
            found = self._identifiers[identifier] = self.key.identifier(identifier)
        return found

    def person(self, id_hash: str, born: date | None, phone: str | None
               ) -> tuple[str | None, str | None]:
        wanted = (id_hash, born, phone)
        found = self._personal.get(wanted)
        if found is None:
            if len(self._personal) >= self.MAX:
                self._personal.clear()
            found = self._personal[wanted] = (
                self.key.date_of_birth(id_hash, born) if born is not None else None,
                self.key.phone(id_hash, phone) if phone is not None else None,
            )
        return found


_HASHES: dict[str, _Hashes] = {}  # by key id: the current key and, in a rotation, the previous


def _hashes(key: HashKey) -> _Hashes:
    found = _HASHES.get(key.key_id)
    if found is None:
        if len(_HASHES) >= 2:
            _HASHES.clear()
        found = _HASHES[key.key_id] = _Hashes(key)
    return found


def _holders_under(
    records: Sequence[DebtRecord], key: HashKey
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[tuple[str, str, str]],
           list[tuple[bool, str]]]:
    """Holders of the records keyed by their hash under `key`, in file order; the later row
    wins, but an empty cell does not erase."""
    hashes = _hashes(key)
    hashed, personal, key_id = hashes.identifier, hashes.person, key.key_id
    persons: dict[str, dict[str, Any]] = {}
    companies: dict[str, dict[str, Any]] = {}
    representatives: list[tuple[str, str, str]] = []
    holders: list[tuple[bool, str]] = []

    def person(holder: Holder) -> str:
        id_hash = hashed(holder.identifier)
        born_hash, phone_hash = personal(id_hash, holder.date_of_birth, holder.phone)
        values = {
            "id_type": holder.identifier.id_type.value, "name": holder.name,
            "date_of_birth_hash": born_hash, "phone_hash": phone_hash,
            "language": holder.language, "key_id": key_id,
        }
        earlier = persons.get(id_hash)
        if earlier is not None:
            values = {k: earlier[k] if v is None else v for k, v in values.items()}
        persons[id_hash] = values
        return id_hash

    for record in records:
        if record.holder_type is HolderType.COMPANY:
            reg_hash = hashed(record.holder.identifier)
            language = record.holder.language or companies.get(reg_hash, {}).get("language")
            companies[reg_hash] = {
                "name": record.holder.name, "language": language, "key_id": key_id,
            }
            holders.append((True, reg_hash))
            if record.representative is not None:
                representatives.append(
                    (reg_hash, person(record.representative), record.representative_role)
                )
        else:
            holders.append((False, person(record.holder)))
    return persons, companies, representatives, holders


def _previous(
    records: Sequence[DebtRecord], keyring: Keyring,
    current_persons: Mapping[str, Any], current_companies: Mapping[str, Any],
) -> tuple[Previous, Previous]:
    assert keyring.previous is not None
    persons, companies, _, _ = _holders_under(records, keyring.previous)
    new, old = _hashes(keyring.current), _hashes(keyring.previous)
    person_hashes: dict[str, str] = {}
    company_hashes: dict[str, str] = {}
    for record in records:
        for holder in (record.holder, record.representative):
            if holder is None:
                continue
            is_company = holder.identifier.id_type is IdType.COMPANY_REG
            pairs = company_hashes if is_company else person_hashes
            pairs[new.identifier(holder.identifier)] = old.identifier(holder.identifier)
    assert set(person_hashes) == set(current_persons)
    assert set(company_hashes) == set(current_companies)
    return Previous(person_hashes, persons), Previous(company_hashes, companies)


def _registry_differences(
    records: Sequence[DebtRecord], rulebook: Rulebook
) -> list[dict[str, Any]]:
    found = []
    for record in records:
        if record.surcharge_on is None and record.prosecution_on is None:
            continue
        debt = Debt(record.kind, record.reference, record.amount, record.served_on,
                    surcharge_on=record.surcharge_on, prosecution_on=record.prosecution_on)
        differ = registry_dates.differences(debt, rulebook=rulebook)
        if differ:
            found.append({
                "debt": f"{record.source}:{record.reference}",
                **{name: {"registry": given.isoformat(), "rulebook": computed.isoformat()}
                   for name, (given, computed) in differ.items()},
            })
    return found
