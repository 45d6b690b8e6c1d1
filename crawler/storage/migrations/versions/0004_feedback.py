"""feedback (issue 13): Match.state (matched | possible | missed), reviews.slack_user, source_mutes

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import crawler.storage.models


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('state', sa.String(length=20), server_default='matched', nullable=False)
        )
        batch_op.create_index(batch_op.f('ix_matches_state'), ['state'], unique=False)
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slack_user', sa.String(length=40), nullable=True))
    op.create_table(
        'source_mutes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('until', crawler.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('muted_by', sa.String(length=200), nullable=False),
        sa.Column('slack_user', sa.String(length=40), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', crawler.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['source_id'], ['sources.id'], name=op.f('fk_source_mutes_source_id_sources'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_source_mutes')),
    )
    with op.batch_alter_table('source_mutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_mutes_source_id'), ['source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_mutes_until'), ['until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('source_mutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_mutes_until'))
        batch_op.drop_index(batch_op.f('ix_source_mutes_source_id'))
    op.drop_table('source_mutes')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_column('slack_user')
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matches_state'))
        batch_op.drop_column('state')
