"""The Alembic migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crawler.storage.db import Database, current_revision, head_revision
from crawler.storage.models import Base


def test_migrations_match_models(db_url: str) -> None:
    """Upgrading an empty database to head leaves no difference from Base.metadata."""
    db = Database(db_url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            diffs: list[Any] = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diffs == [], f"models and migrations differ: {diffs}"
    finally:
        db.dispose()


def test_migrations_downgrade_and_upgrade_again(db_url: str) -> None:
    """Every migration's downgrade runs, and the chain upgrades again from the first revision."""
    from alembic import command

    from crawler.storage.db import alembic_config, upgrade

    db = Database(db_url)
    try:
        command.downgrade(alembic_config(db_url), "0001")
        assert current_revision(db.engine) == "0001"
        upgrade(db_url)
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()
