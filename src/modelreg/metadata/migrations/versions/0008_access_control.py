"""Access control: users, groups, group members, role bindings on model-name patterns, token users.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_ACTOR = sa.String(length=256)
_NAME = sa.String(length=128)
_PRINCIPAL = sa.String(length=140)


def upgrade() -> None:
    for table in ("users", "groups"):
        op.create_table(
            table,
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("name", _NAME, nullable=False),
            sa.Column("created_at", _TIME, nullable=False),
            sa.Column("created_by", _ACTOR, nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("name", name=op.f(f"uq_{table}_name")),
        )
    op.create_table(
        "group_members",
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("member", _PRINCIPAL, nullable=False),
        sa.Column("added_at", _TIME, nullable=False),
        sa.Column("added_by", _ACTOR, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "member", name=op.f("pk_group_members")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_member"), ["member"], unique=False)
    op.create_table(
        "role_bindings",
        sa.Column("principal", _PRINCIPAL, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("models", _NAME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("created_by", _ACTOR, nullable=False),
        sa.PrimaryKeyConstraint("principal", "role", "models", name=op.f("pk_role_bindings")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_name", _NAME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("user_name")
    op.drop_table("role_bindings")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_member"))
    op.drop_table("group_members")
    op.drop_table("groups")
    op.drop_table("users")
