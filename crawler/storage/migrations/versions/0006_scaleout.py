"""scaleout (issue 15): crawl-run host/owner, the worker registry and per-source leases

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import crawler.storage.models


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = crawler.storage.models.UTCDateTime()


def upgrade() -> None:
    with op.batch_alter_table('crawl_runs') as batch:
        batch.add_column(sa.Column('hostname', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('owner_pid', sa.Integer(), nullable=True))
    op.create_table(
        'workers',
        sa.Column('id', sa.String(length=200), nullable=False),
        sa.Column('hostname', sa.String(length=200), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('concurrency', sa.Integer(), nullable=False),
        sa.Column('started_at', UTC, nullable=False),
        sa.Column('heartbeat_at', UTC, nullable=False),
        sa.Column('stopped_at', UTC, nullable=True),
        sa.Column('info', crawler.storage.models.JSONType, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_workers_heartbeat_at', 'workers', ['heartbeat_at'])
    op.create_table(
        'source_leases',
        sa.Column('source_name', sa.String(length=200), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('job_id', sa.String(length=200), nullable=True),
        sa.Column('acquired_at', UTC, nullable=False),
        sa.Column('expires_at', UTC, nullable=False),
        sa.PrimaryKeyConstraint('source_name'),
    )


def downgrade() -> None:
    op.drop_table('source_leases')
    op.drop_index('ix_workers_heartbeat_at', table_name='workers')
    op.drop_table('workers')
    with op.batch_alter_table('crawl_runs') as batch:
        batch.drop_column('owner_pid')
        batch.drop_column('hostname')
