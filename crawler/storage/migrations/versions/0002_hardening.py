"""hardening (issue 17): the story_clusters FK PostgreSQL lacked; the rest of the hardening schema

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import crawler.storage.models


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


FK_NAME = 'fk_story_clusters_first_article_id'


def _missing_cluster_fk() -> bool:
    """0001 declared story_clusters.first_article_id's FK with use_alter, so PostgreSQL never got it."""
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        return False
    fks = sa.inspect(bind).get_foreign_keys('story_clusters')
    return not any(fk['constrained_columns'] == ['first_article_id'] for fk in fks)


def upgrade() -> None:
    if _missing_cluster_fk():
        op.create_foreign_key(
            FK_NAME, 'story_clusters', 'articles', ['first_article_id'], ['id'], ondelete='SET NULL'
        )
    # Processing attempts of an article (failed_internal rows are retried up to a limit).
    with op.batch_alter_table('articles') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
    # Before this revision a dead or stuck extraction worker was recorded as a terminal
    # `failed` (and so counted as seen): make those rows retryable (`newswatch rematch`).
    op.execute(
        "UPDATE articles SET status = 'failed_internal', attempts = 1 WHERE status = 'failed' "
        "AND (status_reason = 'extraction worker process died' "
        "OR status_reason LIKE 'extraction took longer than %')"
    )


def downgrade() -> None:
    op.execute("UPDATE articles SET status = 'failed' WHERE status = 'failed_internal'")
    with op.batch_alter_table('articles') as batch:
        batch.drop_column('attempts')
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        fks = sa.inspect(bind).get_foreign_keys('story_clusters')
        if any(fk.get('name') == FK_NAME for fk in fks):
            op.drop_constraint(FK_NAME, 'story_clusters', type_='foreignkey')
