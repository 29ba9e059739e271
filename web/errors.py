"""Every HTTP error is JSON `{"error": code, "message": text}` and is counted."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from web import keys


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

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}  # of the answer (WWW-Authenticate, say)
        self.extra = extra

    def response(self, request: web.Request) -> web.Response:
        return json_error(
            request, self.status, self.code, self.message, headers=self.headers, **self.extra
        )


@web.middleware
async def refusals(request: web.Request, handler: Any) -> web.StreamResponse:
    """A handler (or what it calls) raising Refused answers with its JSON error."""
    try:
        response: web.StreamResponse = await handler(request)
    except Refused as refused:
        return refused.response(request)
    return response
