"""`GET /api/openapi.json`: the HTTP API described from its own routes and the models its
handlers declare (validation.py), so the description cannot drift from what is checked.
It is what the fuzzing in tests/web/test_fuzz_http.py runs on."""

from __future__ import annotations

import inspect
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web import validation

routes = web.RouteTableDef()

SKIPPED_PREFIXES = ("/static/", "/vendor/")
REF = "#/components/schemas/{model}"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a code, such as not_found or bad_field"},
        "message": {"type": "string", "description": "what is wrong, for a person"},
        "problems": {
            "type": "array",
            "description": "a refused body's fields and what is wrong with each",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}


def _summary(handler: Any) -> tuple[str, str]:
    doc = inspect.getdoc(handler) or ""
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace(".", "/").split("/")
    return method.lower() + "_" + "_".join(w.replace("-", "_") for w in words if w)


def describe(app: web.Application, *, title: str = "parta", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of `app` but its static files."""
    routes = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        path = resource.canonical
        if path.startswith(SKIPPED_PREFIXES):
            continue
        routes.append((route.method, path, route.handler))
    models: list[type[BaseModel]] = validation.models_of(h for _, _, h in routes)
    definitions: dict[str, Any] = {}
    if models:
        _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
        definitions = dict(top.get("$defs", {}))
    definitions["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in sorted(routes, key=lambda r: (r[1], r[0])):
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, handler)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "parta's HTTP API. Every error is JSON (Error). Log in first "
            "(POST /api/auth/login) and send the session cookie, or the token it gives as "
            "`Authorization: Bearer`; pages that change something must be parta's own "
            "(Origin). WebSockets (/ws, /api/events) speak the call protocol of "
            "calls/PROTOCOL.md.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "parta_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
    }


def _operation(method: str, path: str, handler: Any) -> dict[str, Any]:
    summary, description = _summary(handler)
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "tags": [path.strip("/").split("/")[1 if path.startswith("/api/") else 0] or "pages"],
        "responses": {
            "default": {
                "description": "an error",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
            },
            "2XX": {"description": "done"},
        },
    }
    if summary:
        operation["summary"] = summary
    if description:
        operation["description"] = description
    names = re.findall(r"{(\w+)}", path)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]
    query = getattr(handler, validation.QUERY, None)
    if query is not None:
        for name, field in query.model_fields.items():
            schema = query.model_json_schema(ref_template=REF)["properties"][field.alias or name]
            # a query string has no null: an optional parameter is one left out
            options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
            if options:
                schema.update(options[0])
            if schema.get("default") is None:
                schema.pop("default", None)
            parameters.append(
                {
                    "name": field.alias or name,
                    "in": "query",
                    "required": field.is_required(),
                    "schema": schema,
                }
            )
    if parameters:
        operation["parameters"] = parameters
    declared = getattr(handler, validation.BODY, None)
    if declared is not None:
        model, optional = declared
        operation["requestBody"] = {
            "required": not optional,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    media = getattr(handler, validation.MEDIA, None)
    if media:
        operation["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": {"type": "string"}} for kind in media},
        }
    return operation


@routes.get("/api/openapi.json")
async def document(request: web.Request) -> web.Response:
    """This description of the HTTP API (OpenAPI 3.1)."""
    return web.json_response(describe(request.app), headers={"Cache-Control": "no-cache"})
