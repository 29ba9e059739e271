"""What the chats' HTTP API takes: one model per body or query (web/validation.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, Field, field_validator, model_validator

from chat.service import MAX_TEXT
from model.schema import INT32, Id, QuerySchema, Schema, Seq, chars

MAX_VOICE_SECONDS = 30 * 60  # a voice message's length


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None


UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class NewChat(Schema):
    org_id: Id
    title: Annotated[str, chars(128)]
    kind: Literal["group", "channel"] = "group"
    public: bool = False


class Leaving(Schema):
    delete_messages: bool = False


class MemberRole(Schema):
    role: Literal["admin", "member"]


class NewMessage(Schema):
    """Text; or a file of one's own complete upload (`file_id`, with an optional caption
    in `text`); or a voice message (`kind: "voice"` with its `duration` in seconds)."""

    text: Annotated[str, chars(MAX_TEXT, min_length=0)] = ""
    file_id: Id | None = None
    kind: Literal["file", "voice"] = "file"
    duration: Annotated[float, Field(gt=0, le=MAX_VOICE_SECONDS)] | None = None

    @field_validator("duration", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        # whole seconds are a number too (strict mode takes no int for a float otherwise)
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class EditedText(Schema):
    text: Annotated[str, chars(MAX_TEXT)]


class ReadMark(Schema):
    seq: Seq


class ChatState(Schema):
    """The caller's own view of a chat; only the fields sent change (null: unpin,
    unmute, out of the folder)."""

    archived: bool | None = None
    marked_unread: bool | None = None
    pinned_order: Annotated[int, Field(ge=-INT32, le=INT32)] | None = None
    muted_until: UtcTime | None = None
    folder_id: Id | None = None


class FolderName(Schema):
    name: Annotated[str, chars(64)]


Minutes = Annotated[str, Field(pattern=r"^([01]?\d|2[0-4]):[0-5]\d$")]
Weekdays = Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1, max_length=7)]


class QuietHoursBody(Schema):
    """Working hours; `days: null` for none."""

    days: Weekdays | None = None
    from_: Minutes | None = Field(default=None, alias="from")
    to: Minutes | None = None
    time_zone: Annotated[str, chars(64)] | None = None

    @model_validator(mode="after")
    def _complete(self) -> QuietHoursBody:
        if self.days is not None and None in (self.from_, self.to, self.time_zone):
            raise ValueError("working hours need 'from', 'to' and 'time_zone' with 'days'")
        return self

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("is not a time zone such as Europe/Moscow") from None
        return value


class ChatsQuery(QuerySchema):
    folder: Id | None = None
    archived: Literal["0", "1", "true", "false"] = "0"


PAGE, MAX_PAGE = 50, 200  # messages a history page holds by default, and at most


class HistoryQuery(QuerySchema):
    before: Seq | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = PAGE
