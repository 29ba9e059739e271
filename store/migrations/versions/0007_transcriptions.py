"""Transcription: the job queue, and where transcripts and captions land.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcription_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_transcription_jobs_status", "transcription_jobs", ["status", "not_before"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("transcript_language", sa.String(8), nullable=True))
        batch.add_column(sa.Column("transcript_reason", sa.Text, nullable=True))
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("captions_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("captions_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("captions_language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("captions_language")
        batch.drop_column("captions_reason")
        batch.drop_column("captions_status")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("transcript_reason")
        batch.drop_column("transcript_language")
    op.drop_index("ix_transcription_jobs_status", "transcription_jobs")
    op.drop_table("transcription_jobs")
