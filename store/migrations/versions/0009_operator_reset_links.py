"""Password resets: made by the server's operator (`parta reset-link`, no maker among
the users), or by one school's admin (the school is kept: such a link is good only
while its user belongs to no other school).

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
    # links made before knew no school: they go (a reset link lives 3 days at most)
    op.execute("DELETE FROM password_resets")
    with op.batch_alter_table("password_resets") as batch:
        batch.alter_column("created_by", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("org_id", sa.String(32), nullable=True))
        batch.create_foreign_key(
            "fk_password_resets_org_id", "organisations", ["org_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    op.execute("DELETE FROM password_resets WHERE created_by IS NULL")
    with op.batch_alter_table("password_resets") as batch:
        batch.drop_constraint("fk_password_resets_org_id", type_="foreignkey")
        batch.drop_column("org_id")
        batch.alter_column("created_by", existing_type=sa.String(32), nullable=False)
