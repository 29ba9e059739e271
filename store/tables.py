"""Table definitions (SQLAlchemy Core). Change them only together with a migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

scheduled_calls = Table(
    "scheduled_calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("title", String(128), nullable=False),
    Column("start_local", String(32), nullable=False),  # ISO wall time in time_zone
    Column("time_zone", String(64), nullable=False),
    Column("duration_seconds", Integer, nullable=True),  # NULL: all day
    Column("rrule", Text, nullable=True),
    Column("reminders_seconds", JSON, nullable=False),
    Column("waiting_room", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# every call's access settings: scheduled calls' for good, ad-hoc calls' while they live
calls = Table(
    "calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("title", String(128), nullable=False),
    Column("waiting_room", Boolean, nullable=False),
    Column("link_token", String(64), nullable=True, unique=True, index=True),  # NULL: revoked
    Column("scheduled", Boolean, nullable=False),
    Column("host_tokens", JSON, nullable=False),  # SHA-256 of each host token -> role
    Column("ended_until", Float, nullable=True),  # Unix time; NULL: not ended
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# who was invited by e-mail, to be reminded in their own time zone
call_invitees = Table(
    "call_invitees",
    metadata,
    Column("schedule_id", String(64), ForeignKey("scheduled_calls.id"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("invited_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("schedule_id", "email"),
)

# one row per reminder instant dispatched: a restart never sends one twice
reminders_sent = Table(
    "reminders_sent",
    metadata,
    Column("schedule_id", String(64), ForeignKey("scheduled_calls.id"), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("recipients", Integer, nullable=False),
    PrimaryKeyConstraint("schedule_id", "remind_at"),
)


call_history = Table(
    "call_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("title", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("participants", JSON, nullable=False),  # names, in order of joining
    Column("ended_by_host", Boolean, nullable=False),
)
