"""One validation layer for what clients send: every JSON body, query string and call
protocol message is a pydantic model (model/schema.py), checked before a handler sees it.

The models are strict (a number is not a string, `true` is not 1), bounded (sizes,
nesting, integer ranges that fit the store, finite numbers, text without NUL) and
lenient about what they ignore (unknown fields are dropped). A refusal says what is
wrong in our words, names the fields, is counted in `parta_invalid_input_total`, and
never repeats the input or an exception's text. The same models describe the HTTP API
in `/api/openapi.json` (openapi.py).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from model.schema import MAX_BODY_BYTES, problems
from web import keys
from web.errors import Refused, endpoint_of

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
R = TypeVar("R", bound=web.StreamResponse)


def refusal(request: web.Request, exc: ValidationError, code: str | None = None) -> Refused:
    """A 400 that names what is wrong; counted by endpoint and the first problem. `code`:
    the API's own for a bad field (a lesson's is `bad_schedule`), else `bad_field`."""
    found = problems(exc)
    first = found[0] if found else {"problem": "the body is not valid", "kind": "invalid"}
    request.app[keys.METRICS].invalid_input.labels(endpoint_of(request), first["kind"]).inc()
    malformed = first["kind"] in ("json_invalid", "model_type", "dict_type")
    return Refused(
        400,
        "bad_json" if malformed else code or "bad_field",
        first["problem"],
        problems=[{"field": p["field"], "problem": p["problem"]} for p in found],
    )


def check(request: web.Request, model: type[M], data: object) -> M:
    """A value already parsed (a query's dict) as `model`, or a 400."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise refusal(request, exc) from None


# -- reading a request ---------------------------------------------------------------------------


async def _bounded(request: web.Request, limit: int, too_large: str) -> bytes:
    """The body, read no further than `limit` bytes: more is a 413 saying `too_large`."""
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "too_large", too_large)
    raw = bytearray()
    while len(raw) <= limit:
        chunk = await request.content.read(limit + 1 - len(raw))
        if not chunk:
            return bytes(raw)
        raw += chunk
    raise Refused(413, "too_large", too_large)


async def read_json(
    request: web.Request,
    model: type[M],
    *,
    optional: bool = False,
    limit: int = MAX_BODY_BYTES,
    code: str | None = None,
) -> M:
    """The request's JSON body as `model`. Only `application/json` is taken (a form or
    `text/plain` from another page is not JSON to us), at most `limit` bytes; with
    `optional`, no body at all reads as the model's defaults."""
    if optional and not request.body_exists:
        return model()
    if request.content_type != "application/json":
        request.app[keys.METRICS].invalid_input.labels(endpoint_of(request), "content_type").inc()
        raise Refused(415, "bad_content_type", "send Content-Type: application/json")
    raw = await _bounded(request, limit, f"a JSON body is at most {limit // 1024} KiB")
    if optional and not raw.strip():
        return model()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise refusal(request, exc, code) from None


SDP = "application/sdp"
MAX_SDP_BYTES = 64 * 1024


async def read_sdp(request: web.Request, limit: int = MAX_SDP_BYTES) -> str:
    """A WHIP or WHEP offer: `application/sdp`, at most `limit` bytes, UTF-8, beginning
    `v=0`; else a 415, 413 or 400 in our words."""
    if request.content_type != SDP:
        raise Refused(415, "unsupported_media_type", f"send the SDP offer as {SDP}")
    raw = await _bounded(request, limit, "the SDP offer is too large")
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "bad_sdp", "the SDP offer is not UTF-8 text") from None
    if not offer.startswith("v=0"):
        raise Refused(400, "bad_sdp", "the body is not an SDP offer")
    return offer


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model` (a repeated name: its last value)."""
    return check(request, model, {name: request.query.getall(name)[-1] for name in request.query})


# -- handlers that declare what they take (and so describe themselves in the OpenAPI) ----------

BODY = "__parta_body__"
QUERY = "__parta_query__"
MEDIA = "__parta_media__"


Takes = Callable[[Callable[[web.Request, M], Awaitable[R]]], Callable[[web.Request], Awaitable[R]]]


def _taking(
    read: Callable[[web.Request], Awaitable[M]], mark: str, declared: object
) -> Takes[M, R]:
    """A decorator: the handler is called as `handler(request, read(request))`, and
    carries `declared` under `mark` for the OpenAPI description."""

    def wrap(
        handler: Callable[[web.Request, M], Awaitable[R]],
    ) -> Callable[[web.Request], Awaitable[R]]:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> R:
            return await handler(request, await read(request))

        setattr(checked, mark, declared)
        return checked

    return wrap


def body(
    model: type[M],
    *,
    optional: bool = False,
    limit: int = MAX_BODY_BYTES,
    code: str | None = None,
) -> Takes[M, R]:
    """A handler that takes `model` as its JSON body, checked: `handler(request, body)`."""

    async def read(request: web.Request) -> M:
        return await read_json(request, model, optional=optional, limit=limit, code=code)

    return _taking(read, BODY, (model, optional))


def query(model: type[M]) -> Takes[M, R]:
    """A handler that takes `model` as its query string, checked: `handler(request, q)`."""

    async def read(request: web.Request) -> M:
        return read_query(request, model)

    return _taking(read, QUERY, model)


def media(*types: str) -> Callable[[Handler], Handler]:
    """Marks a handler whose body is not JSON (SDP, a file's bytes), for the description;
    the handler reads and checks it itself."""

    def wrap(handler: Handler) -> Handler:
        setattr(handler, MEDIA, types)
        return handler

    return wrap


def models_of(handlers: Iterable[Any]) -> list[type[BaseModel]]:
    """Every model the handlers declare, once each."""
    found: dict[str, type[BaseModel]] = {}
    for handler in handlers:
        declared = getattr(handler, BODY, None)
        if declared is not None:
            found.setdefault(declared[0].__name__, declared[0])
        model = getattr(handler, QUERY, None)
        if model is not None:
            found.setdefault(model.__name__, model)
    return list(found.values())
