"""Every HTTP error is JSON `{"error": code, "message": text}` and is counted."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import keys


def endpoint_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"


def json_error(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    request.app[keys.METRICS].http_errors.labels(endpoint_of(request), str(status)).inc()
    return web.json_response(
        {"error": code, "message": message, **extra}, status=status, headers=headers
    )


class Refused(Exception):
    """Raised by a handler's helpers; the handler answers `error(request)`."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = extra

    def response(self, request: web.Request) -> web.Response:
        return json_error(request, self.status, self.code, self.message, **self.extra)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or Refused 400."""
    try:
        body = await request.json()
    except ValueError:
        raise Refused(400, "bad_json", "send a JSON object") from None
    if not isinstance(body, dict):
        raise Refused(400, "bad_json", "send a JSON object")
    return body


def text_field(
    body: dict[str, Any], name: str, *, min_len: int = 1, max_len: int = 128, required: bool = True
) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not min_len <= len(value.strip()) <= max_len:
        raise Refused(
            400, "bad_field", f"'{name}' must be text of {min_len} to {max_len} characters"
        )
    return value.strip()


@web.middleware
async def refusals(request: web.Request, handler: Any) -> web.StreamResponse:
    """A handler (or what it calls) raising Refused answers with its JSON error."""
    try:
        response: web.StreamResponse = await handler(request)
    except Refused as refused:
        return refused.response(request)
    return response
