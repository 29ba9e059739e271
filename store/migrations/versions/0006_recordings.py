"""Recordings of calls.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("user_ids", sa.JSON, nullable=False),
        sa.Column("chat_id", sa.String(32), sa.ForeignKey("chats.id"), nullable=True),
        sa.Column("file_id", sa.String(32), sa.ForeignKey("files.id"), nullable=True),
        sa.Column("message_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_recordings_call_id", "recordings", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_recordings_call_id", "recordings")
    op.drop_table("recordings")
