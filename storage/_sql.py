"""SQL bits more than one store needs: the session every store wraps, the dialect's INSERT,
and the clipping of free text to its column."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

# Names people and operators give themselves are stored in columns of this width.
NAME_LENGTH = 128


class SessionStore:
    """A store over the unit of work's session. Stores flush, never commit: the unit of work
    commits once at the edge."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""
    return insert_for(session.get_bind().dialect.name)


def insert_for(dialect: str) -> Any:
    """`dialect_insert` by the dialect's name."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def clip_name(name: str | None) -> str | None:
    """A name cut to its column; an empty one is stored as none."""
    return (name or "")[:NAME_LENGTH] or None
