"""Password resets made by the server's operator (`parta reset-link`) have no maker
among the users.

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("password_resets") as batch:
        batch.alter_column("created_by", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM password_resets WHERE created_by IS NULL")
    with op.batch_alter_table("password_resets") as batch:
        batch.alter_column("created_by", existing_type=sa.String(32), nullable=False)
