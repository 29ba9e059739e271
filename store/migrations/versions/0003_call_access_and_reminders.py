"""Calls' access settings (invite links, host tokens, the ended hold); invitees of
scheduled calls and the reminders sent them.

Revision ID: 0003
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    calls = op.create_table(
        "calls",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("waiting_room", sa.Boolean, nullable=False),
        sa.Column("link_token", sa.String(64), nullable=True),
        sa.Column("scheduled", sa.Boolean, nullable=False),
        sa.Column("host_tokens", sa.JSON, nullable=False),
        sa.Column("ended_until", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_calls_link_token", "calls", ["link_token"], unique=True)
    # lessons scheduled before links existed get one now (and no host key: their
    # first arrival is host, as before)
    scheduled = sa.table(
        "scheduled_calls",
        sa.column("call_id", sa.String),
        sa.column("title", sa.String),
        sa.column("waiting_room", sa.Boolean),
    )
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(scheduled.c.call_id, scheduled.c.title, scheduled.c.waiting_room)
    ).all()
    for call_id, title, waiting_room in rows:
        connection.execute(
            calls.insert().values(
                call_id=call_id,
                title=title,
                waiting_room=waiting_room,
                link_token=secrets.token_urlsafe(18),
                scheduled=True,
                host_tokens={},
                ended_until=None,
                updated_at=now,
            )
        )
    op.create_table(
        "call_invitees",
        sa.Column(
            "schedule_id", sa.String(64), sa.ForeignKey("scheduled_calls.id"), nullable=False
        ),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", "email"),
    )
    op.create_table(
        "reminders_sent",
        sa.Column(
            "schedule_id", sa.String(64), sa.ForeignKey("scheduled_calls.id"), nullable=False
        ),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", "remind_at"),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
    op.drop_table("call_invitees")
    op.drop_index("ix_calls_link_token", "calls")
    op.drop_table("calls")
