"""What a refusal says (model/schema.py): the field and what is wrong, in our words,
never the value sent."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field, ValidationError

from model.schema import INT32, Schema, chars, problems


class Lesson(Schema):
    title: Annotated[str, chars(8)]
    room: Annotated[int, Field(ge=1, le=INT32)] = 1
    kind: Literal["group", "channel"] = "group"
    tags: Annotated[list[str], Field(max_length=2)] = []


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        ('{"title": "  "}', "title", "'title' must not be empty"),
        ('{"title": "far too long"}', "title", "'title' must be at most 8 characters"),
        ('{"title": 5}', "title", "'title' must be text"),
        ('{"title": "a", "room": "5"}', "room", "'room' must be a whole number"),
        ('{"title": "a", "room": 2147483648}', "room", "'room' must be at most 2147483647"),
        ('{"title": "a", "room": 1e400}', "room", "'room' must be a whole number"),
        ('{"title": "a", "kind": "dm"}', "kind", "'kind' must be one of 'group' or 'channel'"),
        ('{"title": "a", "tags": ["x", "y", "z"]}', "tags", "'tags' may hold at most 2 items"),
        ('{"room": 1}', "title", "'title' is missing"),
        ('{"title": "a\\u0000"}', "body", "text may not hold the NUL character"),
        ("[1]", "body", "send a JSON object"),
        ("[" * 1000, "body", "the JSON is nested too deeply"),
        ('{"title": "\\ud800"}', "body", "the JSON holds text that is not valid Unicode"),
    ],
)
def test_each_problem_in_our_words(raw: str, field: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Lesson.model_validate_json(raw)
    first = problems(refused.value)[0]
    assert (first["field"], first["problem"]) == (field, problem)
    assert "Input should" not in first["problem"]  # pydantic's own words
