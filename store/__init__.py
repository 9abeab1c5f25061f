"""Persistence: SQLAlchemy models, migrations and queries. Imports nothing else of ours."""
