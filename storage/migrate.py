"""Apply (or revert) migrations programmatically, inside a running event loop or from the shell."""

from __future__ import annotations

import asyncio
import sys

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import PROJECT_ROOT, Settings
from storage.database import DatabasePathError, create_engine


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "storage" / "migrations"))
    return config


async def _on_connection(engine: AsyncEngine, action: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying, dropping and renaming it; with rows pointing at
            # it the drop breaks foreign keys. They are switched off for the migration (the
            # pragma is ignored inside a transaction, hence on the bare connection before it)
            # and checked at the end.
            await connection.run_sync(_foreign_keys, on=False)
        try:
            async with connection.begin():
                await connection.run_sync(run)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                await connection.run_sync(_foreign_keys, on=True)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Outside SQLAlchemy's transaction (which begins with BEGIN IMMEDIATE on SQLite)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _on_connection(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _on_connection(engine, "downgrade", revision)


async def _main(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> int:
    settings = Settings()
    try:
        asyncio.run(_main(settings.database_url))
    except DatabasePathError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"The database cannot be migrated: {exc.orig or exc}", file=sys.stderr)
        return 2
    print("Database is up to date:", settings.database_url.split("@")[-1], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
