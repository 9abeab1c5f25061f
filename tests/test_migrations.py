"""The schema check a cron tick makes before it runs: the newest revision the migration files
name, read without importing Alembic, and the database's own revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from store.db import alembic_config, file_heads, is_current, make_engine, upgrade


def test_the_files_name_the_same_newest_revision_alembic_finds(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'heads.db'}")
    alembic = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    assert file_heads() == frozenset(alembic)
    engine.dispose()


def test_a_database_a_revision_behind_is_upgraded_and_one_at_the_newest_is_left_alone(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    assert not is_current(engine)  # an empty file: no schema at all
    upgrade(engine)
    assert is_current(engine)
    command.downgrade(alembic_config(engine), "-1")
    assert not is_current(engine)
    upgrade(engine)
    assert is_current(engine)
    engine.dispose()
