"""Who scheduled a lesson and on behalf of which chat; who took part in a past call.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_calls") as batch:
        batch.add_column(sa.Column("created_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("chat_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_scheduled_calls_created_by", "users", ["created_by"], ["id"])
        batch.create_foreign_key("fk_scheduled_calls_chat_id", "chats", ["chat_id"], ["id"])
        batch.create_index("ix_scheduled_calls_chat_id", ["chat_id"])
    with op.batch_alter_table("call_history") as batch:
        batch.add_column(sa.Column("user_ids", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_history") as batch:
        batch.drop_column("user_ids")
    with op.batch_alter_table("scheduled_calls") as batch:
        batch.drop_index("ix_scheduled_calls_chat_id")
        batch.drop_constraint("fk_scheduled_calls_chat_id", type_="foreignkey")
        batch.drop_constraint("fk_scheduled_calls_created_by", type_="foreignkey")
        batch.drop_column("chat_id")
        batch.drop_column("created_by")
