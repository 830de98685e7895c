"""What every API area shares: the operation table, request parsing, JSON errors, and the
field types whose JSON Schema is exactly what the parser accepts.

Each area module lists its `OPERATIONS`; the app mounts them and `openapi.py` describes them
from the same objects and the same pydantic models, so the document cannot drift from the
handlers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

from debtbot.services.api_tokens import TokenView
from debtbot.services.deps import Deps
from debtbot.services.staff import Conflict, Invalid, NotAllowed, NotFound

DEPS_KEY = web.AppKey("deps", Deps)
JSON_TYPE = "application/json"


class ApiError(Exception):
    """An answer that is not a success: a status, a stable code, a message for people."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


# --- models -----------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: unknown fields refused, no type coercion ("5" is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Reply):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(Reply):
    code: str
    message: str
    details: list[ErrorDetail] | None = None
    error_id: str | None = None


class ErrorReply(Reply):
    error: ErrorBody


Key = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/:-]*$")
]


def _money(raw: str) -> Decimal:
    return Decimal(raw)


# Money travels as a string ("50.00"), never a JSON number: no binary floating point.
Money = Annotated[
    str,
    StringConstraints(pattern=r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$"),
    AfterValidator(_money),
    PlainSerializer(lambda value: f"{Decimal(value):.2f}", return_type=str),
]
MoneyOut = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$"}),
]

# Dates a registry can sensibly send; outside this range the legal arithmetic means nothing.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2099, 12, 31)
_DATE_PATTERN = r"^(19[0-9]{2}|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def _in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError("date must be between 1900-01-01 and 2099-12-31")
    return day


def _instant_in_range(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("date-time must carry a time zone offset")
    _in_range(moment.date())
    return moment


Day = Annotated[
    date,
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _DATE_PATTERN}),
]
Instant = Annotated[
    datetime,
    AfterValidator(_instant_in_range),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^(19[0-9]{2}|20[0-9]{2})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
            r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$",
        }
    ),
]

ID_MAX = 2**31 - 1
# What a staff service may refuse with (services.staff: NotAllowed, NotFound, Conflict, Invalid).
STAFF_ERRORS = (403, 404, 409, 422)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], raw: bytes) -> M:
    """Parse a JSON body: malformed JSON → 400, anything the model refuses → 422."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
        details = [
            {"loc": [part if isinstance(part, int) else str(part) for part in error["loc"]],
             "msg": error["msg"], "type": error["type"]}
            for error in errors[:50]
        ]
        raise ApiError(
            422, "invalid_body", "The body does not match the schema.", details=details
        ) from None


# --- operations -------------------------------------------------------------------------


@dataclass(slots=True)
class Call:
    """One request as a handler sees it, after authentication and parsing."""

    request: web.Request
    deps: Deps
    token: TokenView | None
    body: Any
    raw: bytes
    params: dict[str, int]
    query: Any = None


class Query(BaseModel):
    """Query parameters: unknown names refused; values arrive as strings (lax parsing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_query(model: type[M], items: list[tuple[str, str]]) -> M:
    """Parse query parameters: a repeated or unknown name, or a bad value → 422."""
    values: dict[str, str] = {}
    for name, value in items:
        if name in values:
            raise ApiError(422, "invalid_query", "The query does not match the schema.",
                           details=[{"loc": ["query", name], "msg": "given more than once",
                                     "type": "repeated"}])
        values[name] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        details = [
            {"loc": ["query", *(part if isinstance(part, int) else str(part)
                                for part in error["loc"])],
             "msg": error["msg"], "type": error["type"]}
            for error in errors[:50]
        ]
        raise ApiError(
            422, "invalid_query", "The query does not match the schema.", details=details
        ) from None


Handler = Callable[[Call], Awaitable[BaseModel]]


@dataclass(frozen=True, slots=True)
class HeaderParam:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # OpenAPI form: /api/broadcasts/{broadcast_id}; parameters are ids
    operation_id: str
    summary: str
    tag: str
    handler: Handler
    response: type[BaseModel]
    scope: str | None = None
    request: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    headers: tuple[HeaderParam, ...] = ()
    parse_body: bool = True  # False: the handler parses `raw` itself (signature first)
    description: str = ""
    query: type[BaseModel] | None = None  # query parameters, parsed into `Call.query`

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def route(self) -> str:
        return re.sub(r"{(\w+)}", r"{\1:[0-9]{1,10}}", self.path)


def json_response(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=body.model_dump_json(exclude_none=False).encode(),
        content_type=JSON_TYPE,
        headers=headers,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    error_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = ErrorReply(
        error=ErrorBody(
            code=code,
            message=message,
            details=[ErrorDetail(**detail) for detail in details] if details else None,
            error_id=error_id,
        )
    )
    return json_response(status, body, headers)


def staff_error(exc: Exception) -> ApiError:
    """A services.staff.StaffError as an API error (nothing was written)."""
    status = 422
    for kind, code in ((NotAllowed, 403), (NotFound, 404), (Conflict, 409), (Invalid, 422)):
        if isinstance(exc, kind):
            status = code
            break
    detail = getattr(exc, "detail", "") or str(exc)
    return ApiError(status, getattr(exc, "code", "refused"), detail)
