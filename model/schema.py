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


# what each kind of pydantic error says, in our words: {field} and the error's context
WORDS = {
    "missing": "{field} is missing",
    "string_type": "{field} must be text",
    "int_type": "{field} must be a whole number",
    "int_parsing": "{field} must be a whole number",
    "int_from_float": "{field} must be a whole number",
    "float_type": "{field} must be a number",
    "float_parsing": "{field} must be a number",
    "finite_number": "{field} must be a finite number",
    "bool_type": "{field} must be true or false",
    "bool_parsing": "{field} must be true or false",
    "list_type": "{field} must be a list",
    "tuple_type": "{field} must be a list",
    "string_too_long": "{field} must be at most {max_length} characters",
    "too_long": "{field} may hold at most {max_length} items",
    "too_short": "{field} must hold at least {min_length} items",
    "greater_than_equal": "{field} must be at least {ge}",
    "greater_than": "{field} must be more than {gt}",
    "less_than_equal": "{field} must be at most {le}",
    "less_than": "{field} must be less than {lt}",
    "literal_error": "{field} must be one of {expected}",
    "string_pattern_mismatch": "{field} holds characters it may not",
    "datetime_type": "{field} must be a date and time (ISO 8601)",
    "datetime_parsing": "{field} must be a date and time (ISO 8601)",
    "datetime_from_date_parsing": "{field} must be a date and time (ISO 8601)",
    "timezone_aware": "{field} needs a UTC offset",
    "union_tag_not_found": "missing 'type'",
}


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
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{field} must not be empty"
        return f"{field} must be at least {ctx.get('min_length')} characters"
    if kind == "union_tag_invalid":
        return f"unknown message type {str(ctx.get('tag'))[:64]!r}"
    if kind in ("value_error", "assertion_error"):
        # our own validators' messages (ValueError raised in a model, never a library's)
        reason = str(ctx.get("error", "is not valid"))
        return f"{field} {reason}" if error["loc"] else reason
    words = WORDS.get(kind)
    if words is None:
        return f"{field} is not valid"
    return words.format(field=field, **{k: v for k, v in ctx.items() if k != "field"})


def problems(exc: ValidationError, *, tagged: bool = False) -> list[dict[str, str]]:
    """The first few problems: field and what is wrong, never the value sent. `tagged`:
    a union chosen by its `type`, whose name leads every error's location."""
    found = []
    for error in exc.errors(include_url=False, include_input=False)[:10]:
        if tagged and error["type"] not in ("union_tag_invalid", "union_tag_not_found"):
            error["loc"] = error["loc"][1:]
        found.append({"field": _field(error), "problem": _problem(error), "kind": error["type"]})
    return found
