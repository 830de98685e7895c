"""`/api/openapi.json`: an OpenAPI 3.1 document built from the operation table and the very
pydantic models the handlers parse with, so it says exactly what they accept.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from debtbot import __version__
from debtbot.http.base import ID_MAX, JSON_TYPE, ErrorReply, Operation

PATH = "/api/openapi.json"
REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Malformed JSON",
    401: "Missing, unknown or revoked bearer token; or a bad payment signature",
    403: "The token lacks the scope",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict (replayed payment, debt not open, wrong state)",
    413: "Body larger than the limit",
    415: "Body is not application/json",
    422: "The body does not match the schema, or the request is refused",
    500: "Unexpected error (quote error.error_id)",
    503: "Not configured, or the database is not answering (see Retry-After)",
}


def _schemas(operations: list[Operation]) -> tuple[dict[str, Any], dict[str, Any]]:
    models: list[type[BaseModel]] = [ErrorReply]
    for operation in operations:
        for model in (operation.request, operation.response):
            if model is not None and model not in models:
                models.append(model)
    inputs = [(model, "validation") for model in models]
    keyed, definitions = models_json_schema(inputs, ref_template=REF)
    refs = {model: keyed[(model, "validation")] for model in models}
    return refs, definitions.get("$defs", {})


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _ERROR_TEXT.get(status, "Error"),
        "content": {JSON_TYPE: {"schema": {"$ref": REF.format(model="ErrorReply")}}},
    }


def build_document(operations: list[Operation], *, metrics_path: str = "/metrics") -> dict:
    refs, definitions = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        # 503: every operation may meet a database that is not answering.
        statuses = set(operation.errors) | {405, 503}
        if operation.scope is not None:
            statuses |= {401, 403}
        if operation.request is not None:
            statuses |= {400, 413, 415, 422}
        if operation.query is not None:
            statuses |= {422}
        if operation.path_params:
            statuses |= {404}
        responses: dict[str, Any] = {
            str(operation.status): {
                "description": "Success",
                "content": {
                    JSON_TYPE: {"schema": refs[operation.response]}
                },
            }
        }
        for status in sorted(statuses):
            responses[str(status)] = _error(status)
        responses["500"] = _error(500)
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
            }
            for name in operation.path_params
        ]
        if operation.query is not None:
            shape = operation.query.model_json_schema()
            required = set(shape.get("required", []))
            for name, field_schema in shape.get("properties", {}).items():
                field_schema = {k: v for k, v in field_schema.items() if k != "title"}
                description = field_schema.pop("description", "")
                if name not in required and "anyOf" in field_schema:
                    # Optional: leaving the parameter out is the "null" case.
                    options = [o for o in field_schema.pop("anyOf") if o != {"type": "null"}]
                    field_schema = {**options[0], **field_schema} if len(options) == 1 else {
                        "anyOf": options, **field_schema}
                    if field_schema.get("default", 0) is None:
                        del field_schema["default"]
                parameter: dict[str, Any] = {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": field_schema,
                }
                if description:
                    parameter["description"] = description
                parameters.append(parameter)
        parameters += [
            {
                "name": header.name,
                "in": "header",
                "required": True,
                "description": header.description,
                "schema": header.schema,
            }
            for header in operation.headers
        ]
        entry: dict[str, Any] = {
            "operationId": operation.operation_id,
            "summary": operation.summary,
            "tags": [operation.tag],
            "responses": responses,
        }
        if operation.description:
            entry["description"] = operation.description
        if parameters:
            entry["parameters"] = parameters
        if operation.scope is not None:
            entry["security"] = [{"bearer": []}]
            entry["x-scope"] = operation.scope
        if operation.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {JSON_TYPE: {"schema": refs[operation.request]}},
            }
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry
    paths[metrics_path] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "405": _error(405),
                "500": _error(500),
            },
        }
    }
    paths[PATH] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document",
                    "content": {JSON_TYPE: {"schema": {"type": "object"}}},
                },
                "405": _error(405),
                "500": _error(500),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "debtbot API",
            "version": __version__,
            "description": (
                "Registries upsert and cancel debts; the payment provider reports payments "
                "(HMAC-signed); staff systems send notices and broadcasts; the government "
                "portal mints deep-link tokens. Bearer tokens carry scopes "
                "(ingest, payments, notices, portal, read). Every error is JSON."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `debtbot token create NAME --scope ...`.",
                }
            },
        },
    }


def install(app: web.Application, operations: list[Operation]) -> None:
    body = json.dumps(build_document(operations), ensure_ascii=False).encode()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=JSON_TYPE)

    app.router.add_get(PATH, serve, name="openapi")
