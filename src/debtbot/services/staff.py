"""Staff and their roles: operators send notices to one person, supervisors send and approve
broadcasts, admins manage staff. Roles nest: an admin may do what a supervisor may, a
supervisor what an operator may. Staff are Telegram users (their private chat id is their
user id); removing one deactivates the row so the audit log's actors stay explainable.

API (the Telegram, HTTP and CLI adapters code against these exact names):

    class Role(StrEnum): OPERATOR = "operator", SUPERVISOR = "supervisor", ADMIN = "admin"
        Role.includes(other: Role) -> bool            admin ⊇ supervisor ⊇ operator

    @dataclass(frozen=True) StaffView(telegram_user_id: int, name: str, role: Role,
        active: bool, receives_tests: bool, language: str)   language = the staff member's
        chat language ("en" until they have talked to the bot)

    @dataclass(frozen=True) Actor(label: str, role: Role)   who acts; `label` is what the
        audit log records: "staff:<telegram_user_id>", "cli", "token:<api token id>".
        Actor.for_staff(view) -> Actor;  CLI_ACTOR = Actor("cli", Role.ADMIN)
        The HTTP API builds Actor(f"token:{token_id}", role) from its token's scope.

    Errors (all subclass StaffError(Exception), with `.code: str` and `.detail: str`):
        NotAllowed (→ HTTP 403), NotFound (→ 404), Conflict (→ 409), Invalid (→ 422).
        Nothing is written when one is raised.

    async def add_staff(deps, *, actor: Actor, telegram_user_id: int, name: str,
                        role: Role | str, receives_tests: bool = False) -> StaffView
        admin only; adds, or updates and reactivates an existing member; audited "staff.add".
    async def remove_staff(deps, *, actor: Actor, telegram_user_id: int) -> StaffView
        admin only; deactivates; NotFound if unknown; audited "staff.remove".
    async def list_staff(deps, *, include_inactive: bool = False) -> list[StaffView]
    async def staff_member(deps, *, telegram_user_id: int) -> StaffView | None
        the ACTIVE member with that id, else None (the Telegram gate for staff commands).
    def require(actor: Actor, role: Role) -> None        raises NotAllowed
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from debtbot.services.deps import Deps
from debtbot.store.staff import StaffRecord


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def includes(self, other: Role) -> bool:
        return _RANK[self] >= _RANK[Role(other)]


_RANK = {Role.OPERATOR: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class StaffError(Exception):
    code = "error"

    def __init__(self, detail: str = "", *, code: str | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        if code is not None:
            self.code = code


class NotAllowed(StaffError):
    code = "not_allowed"


class NotFound(StaffError):
    code = "not_found"


class Conflict(StaffError):
    code = "conflict"


class Invalid(StaffError):
    code = "invalid"


@dataclass(frozen=True, slots=True)
class StaffView:
    telegram_user_id: int
    name: str
    role: Role
    active: bool
    receives_tests: bool
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Actor:
    label: str
    role: Role

    @classmethod
    def for_staff(cls, view: StaffView) -> Actor:
        return cls(f"staff:{view.telegram_user_id}", view.role)


CLI_ACTOR = Actor("cli", Role.ADMIN)


def require(actor: Actor, role: Role) -> None:
    """Raise NotAllowed unless the actor's role includes `role`."""
    if not Role(actor.role).includes(role):
        raise NotAllowed(f"needs the {role.value} role")


def _view(row: StaffRecord) -> StaffView:
    return StaffView(
        telegram_user_id=row.telegram_user_id,
        name=row.name,
        role=Role(row.role),
        active=row.active,
        receives_tests=row.receives_tests,
        language=row.language or "en",
    )


async def add_staff(
    deps: Deps,
    *,
    actor: Actor,
    telegram_user_id: int,
    name: str,
    role: Role | str,
    receives_tests: bool = False,
) -> StaffView:
    """Add a staff member, or update and reactivate one (admins only)."""
    require(actor, Role.ADMIN)
    try:
        role = Role(role)
    except ValueError as exc:
        raise Invalid("role must be operator, supervisor or admin", code="bad_role") from exc
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("name must be 1 to 200 characters", code="bad_name")
    if not isinstance(telegram_user_id, int) or telegram_user_id <= 0:
        raise Invalid("telegram_user_id must be a positive integer", code="bad_user_id")
    async with deps.uow() as uow:
        row = await uow.staff.save(
            telegram_user_id=telegram_user_id,
            name=name,
            role=role.value,
            receives_tests=receives_tests,
        )
        await uow.audit.record(
            actor=actor.label,
            action="staff.add",
            subject=f"staff:{telegram_user_id}",
            details={"role": role.value, "receives_tests": receives_tests},
        )
    return _view(row)


async def remove_staff(deps: Deps, *, actor: Actor, telegram_user_id: int) -> StaffView:
    """Deactivate a staff member (admins only)."""
    require(actor, Role.ADMIN)
    async with deps.uow() as uow:
        row = await uow.staff.deactivate(telegram_user_id)
        if row is None:
            raise NotFound("no such staff member")
        await uow.audit.record(
            actor=actor.label, action="staff.remove", subject=f"staff:{telegram_user_id}"
        )
    return _view(row)


async def list_staff(deps: Deps, *, include_inactive: bool = False) -> list[StaffView]:
    """Staff ordered by role then name."""
    rows = await deps.read(lambda uow: uow.staff.members(include_inactive=include_inactive))
    views = [_view(row) for row in rows]
    return sorted(views, key=lambda v: (-_RANK[v.role], v.name.lower(), v.telegram_user_id))


async def staff_member(deps: Deps, *, telegram_user_id: int) -> StaffView | None:
    """The active staff member with that Telegram user id, or None."""
    row = await deps.read(lambda uow: uow.staff.member(telegram_user_id))
    if row is None or not row.active:
        return None
    return _view(row)
