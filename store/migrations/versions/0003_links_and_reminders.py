"""Join links and host keys of scheduled calls; invitees and the reminders sent them.

Revision ID: 0003
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_calls") as batch:
        batch.add_column(sa.Column("link_token", sa.String(64), nullable=True))
        batch.add_column(sa.Column("host_key", sa.String(64), nullable=True))
    op.create_index(
        "ix_scheduled_calls_link_token", "scheduled_calls", ["link_token"], unique=True
    )
    # calls scheduled before links existed get theirs now
    table = sa.table(
        "scheduled_calls",
        sa.column("id", sa.String),
        sa.column("link_token", sa.String),
        sa.column("host_key", sa.String),
    )
    connection = op.get_bind()
    for (schedule_id,) in connection.execute(sa.select(table.c.id)).all():
        connection.execute(
            table.update()
            .where(table.c.id == schedule_id)
            .values(link_token=secrets.token_urlsafe(18), host_key=secrets.token_urlsafe(24))
        )
    op.create_table(
        "call_invitees",
        sa.Column("schedule_id", sa.String(64), sa.ForeignKey("scheduled_calls.id"), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", "email"),
    )
    op.create_table(
        "reminders_sent",
        sa.Column("schedule_id", sa.String(64), sa.ForeignKey("scheduled_calls.id"), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", "remind_at"),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
    op.drop_table("call_invitees")
    op.drop_index("ix_scheduled_calls_link_token", "scheduled_calls")
    with op.batch_alter_table("scheduled_calls") as batch:
        batch.drop_column("host_key")
        batch.drop_column("link_token")
