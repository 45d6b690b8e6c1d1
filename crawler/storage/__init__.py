"""Storage: SQLAlchemy models, engine/session set-up, migrations and queries."""
