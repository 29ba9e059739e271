"""One validation layer for what clients send: every JSON body, query string and call
protocol message is a pydantic model, checked before a handler sees it.

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
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from . import keys
from .errors import Refused, endpoint_of

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
R = TypeVar("R", bound=web.StreamResponse)

MAX_BODY_BYTES = 64 * 1024  # a JSON body; a message's text is 4000 characters at most
INT64 = 2**63 - 1
# integers a browser reads exactly (JavaScript's Number): counts, sequence numbers
SAFE_INT = 2**53 - 1
INT32 = 2**31 - 1  # an SQL INTEGER column


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; nobody types one
    if "\x00" in value:
        raise ValueError("may not hold the NUL character")
    return value


def chars(max_length: int, *, min_length: int = 1) -> StringConstraints:
    """`Annotated[str, chars(128)]`: 1 to 128 characters, spaces around them dropped."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Seq = Annotated[int, Field(ge=0, le=SAFE_INT)]


def _nul_free(value: object) -> None:
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _nul_free(item)
    elif isinstance(value, BaseModel):
        for item in value.__dict__.values():
            _nul_free(item)


class Schema(BaseModel):
    """A JSON body or a protocol message."""

    model_config = ConfigDict(
        strict=True,
        allow_inf_nan=False,
        extra="ignore",
        frozen=True,
        str_max_length=MAX_BODY_BYTES,
        # the OpenAPI description's rules hold for what the server itself sends back too
        ser_json_inf_nan="null",
    )

    @model_validator(mode="after")
    def _text_without_nul(self) -> Any:
        for value in self.__dict__.values():
            _nul_free(value)
        return self


class QuerySchema(Schema):
    """A query string: its values are text, so numbers are read from it."""

    model_config = ConfigDict(strict=False)


# -- what goes wrong, in our words ------------------------------------------------------------


def _field(error: ErrorDetails) -> str:
    path = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    return path or "body"


def _problem(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    field = f"'{_field(error)}'"
    if kind == "json_invalid":
        detail = str(ctx.get("error", ""))
        if "recursion limit" in detail:
            return "the JSON is nested too deeply"
        if "escape" in detail or "unicode" in detail.lower():
            return "the JSON holds text that is not valid Unicode"
        return "the body is not valid JSON"
    if kind in ("model_type", "model_attributes_type", "dict_type") and not error["loc"]:
        return "send a JSON object"
    if kind == "missing":
        return f"{field} is missing"
    if kind in ("string_type", "str_type"):
        return f"{field} must be text"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{field} must be a whole number"
    if kind in ("float_type", "float_parsing"):
        return f"{field} must be a number"
    if kind == "finite_number":
        return f"{field} must be a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return f"{field} must be true or false"
    if kind in ("list_type", "tuple_type"):
        return f"{field} must be a list"
    if kind == "string_too_short":
        return f"{field} must not be empty" if ctx.get("min_length") == 1 else (
            f"{field} must be at least {ctx.get('min_length')} characters"
        )
    if kind == "string_too_long":
        return f"{field} must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"{field} may hold at most {ctx.get('max_length')} items"
    if kind == "too_short":
        return f"{field} must hold at least {ctx.get('min_length')} items"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{field} must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{field} must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "literal_error":
        return f"{field} must be one of {ctx.get('expected')}"
    if kind == "union_tag_invalid":
        return f"unknown message type {str(ctx.get('tag'))[:64]!r}"
    if kind == "union_tag_not_found":
        return "missing 'type'"
    if kind in ("value_error", "assertion_error"):
        # our own validators' messages (ValueError raised in a model, never a library's)
        reason = str(ctx.get("error", "is not valid"))
        return f"{field} {reason}" if error["loc"] else reason
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"{field} must be a date and time (ISO 8601)"
    return f"{field} is not valid"


def problems(exc: ValidationError) -> list[dict[str, str]]:
    """The first few problems: field and what is wrong, never the value sent."""
    found = []
    for error in exc.errors(include_url=False, include_input=False)[:10]:
        found.append({"field": _field(error), "problem": _problem(error), "kind": error["type"]})
    return found


def refusal(request: web.Request, exc: ValidationError) -> Refused:
    """A 400 that names what is wrong; counted by endpoint and the first problem."""
    found = problems(exc)
    first = found[0] if found else {"problem": "the body is not valid", "kind": "invalid"}
    request.app[keys.METRICS].invalid_input.labels(endpoint_of(request), first["kind"]).inc()
    code = "bad_json" if first["kind"] in ("json_invalid", "model_type", "dict_type") else (
        "bad_field"
    )
    return Refused(
        400,
        code,
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


async def read_json(
    request: web.Request, model: type[M], *, optional: bool = False, limit: int = MAX_BODY_BYTES
) -> M:
    """The request's JSON body as `model`. Only `application/json` is taken (a form or
    `text/plain` from another page is not JSON to us), at most `limit` bytes; with
    `optional`, no body at all reads as the model's defaults."""
    if optional and not request.body_exists:
        return model()
    if request.content_type != "application/json":
        request.app[keys.METRICS].invalid_input.labels(
            endpoint_of(request), "content_type"
        ).inc()
        raise Refused(415, "bad_content_type", "send Content-Type: application/json")
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "too_large", f"a JSON body is at most {limit // 1024} KiB")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, "too_large", f"a JSON body is at most {limit // 1024} KiB") from None
    if len(raw) > limit:
        raise Refused(413, "too_large", f"a JSON body is at most {limit // 1024} KiB")
    if optional and not raw.strip():
        return model()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise refusal(request, exc) from None


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model` (a repeated name: its last value)."""
    return check(request, model, {name: request.query.getall(name)[-1] for name in request.query})


# -- handlers that declare what they take (and so describe themselves in the OpenAPI) ----------

BODY = "__parta_body__"
QUERY = "__parta_query__"
MEDIA = "__parta_media__"


def body(
    model: type[M], *, optional: bool = False, limit: int = MAX_BODY_BYTES
) -> Callable[[Callable[[web.Request, M], Awaitable[R]]], Callable[[web.Request], Awaitable[R]]]:
    """A handler that takes `model` as its JSON body, checked: `handler(request, body)`."""

    def wrap(
        handler: Callable[[web.Request, M], Awaitable[R]],
    ) -> Callable[[web.Request], Awaitable[R]]:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> R:
            parsed = await read_json(request, model, optional=optional, limit=limit)
            return await handler(request, parsed)

        setattr(checked, BODY, (model, optional))
        return checked

    return wrap


def query(
    model: type[M],
) -> Callable[[Callable[[web.Request, M], Awaitable[R]]], Callable[[web.Request], Awaitable[R]]]:
    """A handler that takes `model` as its query string, checked: `handler(request, q)`."""

    def wrap(
        handler: Callable[[web.Request, M], Awaitable[R]],
    ) -> Callable[[web.Request], Awaitable[R]]:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> R:
            return await handler(request, read_query(request, model))

        setattr(checked, QUERY, model)
        return checked

    return wrap


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
