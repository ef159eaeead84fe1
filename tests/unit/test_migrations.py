"""Every migration goes up, down and up again, and the result matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.database import create_engine
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import Base


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def test_stairway_up_down_up(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        revisions = _revisions()
        assert len(revisions) >= 2
        previous = "base"
        for revision in revisions:
            await upgrade(engine, revision)
            await downgrade(engine, previous)
            await upgrade(engine, revision)
            previous = revision

        def differences(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            assert {
                "appeals",
                "outbox",
                "staff_messages",
                "fsm_records",
            } <= await connection.run_sync(tables)
        await downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(tables) <= {"alembic_version"}
    finally:
        await engine.dispose()
