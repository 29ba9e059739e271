"""Lessons are looked up by organiser (who sees which lesson is one indexed query).

Revision ID: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_calls") as batch:
        batch.create_index(
            batch.f("ix_scheduled_calls_created_by"), ["created_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduled_calls") as batch:
        batch.drop_index(batch.f("ix_scheduled_calls_created_by"))
