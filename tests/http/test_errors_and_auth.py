"""Bad input and bad credentials: always a JSON error with a 4xx, never a 500."""

from __future__ import annotations

import hashlib

from http_support import Api, debt
from sqlalchemy import func, select

from debtbot.services.api_tokens import create_token, revoke_token
from debtbot.store.models import ApiToken, DebtRow


def assert_error(status: int, body: object, expected: int, code: str) -> None:
    assert status == expected, body
    assert isinstance(body, dict) and body["error"]["code"] == code, body


async def count_debts(api: Api) -> int:
    async with api.deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(DebtRow)) or 0)


async def test_a_request_without_a_token_is_refused_with_401(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", body={"debts": [debt()]})
    assert_error(status, body, 401, "unauthenticated")
    assert await count_debts(api) == 0


async def test_an_unknown_token_is_refused(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/debts/upsert", body={"debts": [debt()]},
        headers={"Authorization": "Bearer dbt_not-a-real-token"},
    )
    assert_error(status, body, 401, "invalid_token")


async def test_a_malformed_authorization_header_is_refused(api: Api) -> None:
    for header in ("Basic abc", "Bearer", "Bearer dbt_ä", "bearer  "):
        status, body = await api.call(
            "POST", "/api/debts/upsert", body={"debts": [debt()]},
            headers={"Authorization": header},
        )
        assert_error(status, body, 401, "unauthenticated")


async def test_a_token_without_the_scope_gets_403(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="read", body={"debts": [debt()]}
    )
    assert_error(status, body, 403, "insufficient_scope")
    assert await count_debts(api) == 0


async def test_a_revoked_token_no_longer_works(api: Api) -> None:
    created = await create_token(api.deps, name="registry", scopes="ingest")
    headers = {"Authorization": f"Bearer {created.secret}"}
    status, _ = await api.call("POST", "/api/debts/upsert", body={"debts": [debt()]},
                               headers=headers)
    assert status == 200
    assert await revoke_token(api.deps, token_id=created.token.id)
    status, body = await api.call("POST", "/api/debts/upsert", body={"debts": [debt()]},
                                  headers=headers)
    assert_error(status, body, 401, "invalid_token")


async def test_tokens_are_stored_only_as_their_sha256(api: Api) -> None:
    created = await create_token(api.deps, name="portal", scopes=["portal"])
    async with api.deps.sessions() as session:
        row = await session.get(ApiToken, created.token.id)
    assert row is not None
    assert row.token_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    assert created.secret not in repr(row.__dict__)
    assert row.scopes == ["portal"]


async def test_malformed_json_is_a_400(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  raw=b'{"debts": [')
    assert_error(status, body, 400, "malformed_json")


async def test_invalid_utf8_is_a_400(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  raw=b'{"debts": "\xff"}')
    assert_error(status, body, 400, "malformed_json")


async def test_wrong_types_are_a_422_naming_the_field(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="ingest",
        body={"debts": [debt(amount=85.0, points="3")]},
    )
    assert_error(status, body, 422, "invalid_body")
    fields = {tuple(detail["loc"]) for detail in body["error"]["details"]}
    assert ("debts", 0, "amount") in fields and ("debts", 0, "points") in fields
    assert await count_debts(api) == 0


async def test_unknown_fields_are_refused(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="ingest", body={"debts": [debt(colour="red")]}
    )
    assert_error(status, body, 422, "invalid_body")
    assert body["error"]["details"][0]["type"] == "extra_forbidden"


async def test_a_json_array_instead_of_an_object_is_refused(api: Api) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest", body=[1, 2])
    assert_error(status, body, 422, "invalid_body")


async def test_a_body_over_the_size_limit_is_a_413(api: Api) -> None:
    limit = api.deps.settings.http_max_body_bytes
    raw = b'{"debts": [' + b" " * (limit + 10) + b"]}"
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest", raw=raw)
    assert_error(status, body, 413, "body_too_large")
    assert await count_debts(api) == 0


async def test_a_body_that_is_not_json_content_is_a_415(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="ingest", raw=b"kind=tax",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(status, body, 415, "unsupported_media_type")


async def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    status, body = await api.call("GET", "/api/nothing-here")
    assert_error(status, body, 404, "not_found")
    status, body = await api.call("DELETE", "/api/debts/upsert", scope="ingest")
    assert_error(status, body, 405, "method_not_allowed")
    status, body = await api.call("GET", "/api/broadcasts/99999999999", scope="read")
    assert_error(status, body, 404, "not_found")


async def test_the_error_identifies_no_input_values(api: Api) -> None:
    secret_number = "7654321"
    status, body = await api.call(
        "POST", "/api/debts/upsert", scope="ingest",
        body={"debts": [debt(id_number=secret_number, amount="12.345")]},
    )
    assert status == 422
    assert secret_number not in str(body)
