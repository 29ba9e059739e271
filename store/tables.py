"""Table definitions (SQLAlchemy Core). Change them only together with a migration."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

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
