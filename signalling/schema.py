"""The values clients send, as pydantic models: the base classes, bounded types, and
what a refusal says (in our words: the field and what is wrong, never the value sent nor
an exception's text). Pure: no web, no app; validation.py reads requests with them, and
the call protocol's messages are made of them (protocol.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

MAX_BODY_BYTES = 64 * 1024  # a JSON body; a message's text is 4000 characters at most
INT64 = 2**63 - 1
# integers a browser reads exactly (JavaScript's Number): counts, sequence numbers
SAFE_INT = 2**53 - 1
INT32 = 2**31 - 1  # an SQL INTEGER column


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; nobody types one
    if "\x00" in value:
        raise ValueError("text may not hold the NUL character")
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


# -- what goes wrong, in our words -------------------------------------------------------


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
    if kind == "string_pattern_mismatch":
        return f"{field} holds characters it may not"
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"{field} must be a date and time (ISO 8601)"
    return f"{field} is not valid"


def problems(exc: ValidationError, *, tagged: bool = False) -> list[dict[str, str]]:
    """The first few problems: field and what is wrong, never the value sent. `tagged`:
    a union chosen by its `type`, whose name leads every error's location."""
    found = []
    for error in exc.errors(include_url=False, include_input=False)[:10]:
        if tagged and error["type"] not in ("union_tag_invalid", "union_tag_not_found"):
            error["loc"] = error["loc"][1:]
        found.append({"field": _field(error), "problem": _problem(error), "kind": error["type"]})
    return found
