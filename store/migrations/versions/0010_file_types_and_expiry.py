"""Files: what their bytes are (the type shown inline, decided by the server), and when
an unfinished upload last got bytes (abandoned ones expire).

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        # NULL: files finished before the server looked; it looks when one is downloaded
        batch.add_column(sa.Column("inline_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_files_touched_at"), ["touched_at"], unique=False)
    # unfinished uploads made before: their clock starts at their creation
    op.execute("UPDATE files SET touched_at = COALESCE(completed_at, created_at)")


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_index(batch.f("ix_files_touched_at"))
        batch.drop_column("touched_at")
        batch.drop_column("inline_type")
