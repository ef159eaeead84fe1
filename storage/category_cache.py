"""The active categories held in process, so a dialog step does not query them.

Categories change only when the city's file is loaded at start-up (`sync_categories`), which
drops this copy. Where one process owns the database (SQLite) that is all. With several
workers on PostgreSQL another worker's start-up can change the table behind this copy: there
the copy is stamped with a version the workers share (`CatalogueVersion`, in Redis), read
before each use and moved on by every sync, so a worker whose copy is older reads the table
again. Without a shared version the repository reads the table each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.entities import CategoryInfo
from storage._rows import category_info
from storage.models import Category

# The copy a unit of work checked against the shared version (read once per unit of work).
_CHECKED = "categories_checked"


@dataclass(frozen=True)
class _Snapshot:
    by_parent: dict[int | None, list[CategoryInfo]]
    by_code: dict[str, CategoryInfo]


class CatalogueVersion(Protocol):
    """The categories' version, shared by the workers."""

    async def current(self) -> str:
        """Read before the copy is used (one round trip)."""
        ...

    async def bump(self) -> None:
        """A sync committed: every worker's copy is older now."""
        ...


class CategoryCatalogue:
    def __init__(self, version: CatalogueVersion | None = None) -> None:
        self._version = version
        self._snapshot: _Snapshot | None = None
        self._seen: str | None = None

    def invalidate(self, session: AsyncSession) -> None:
        """The table changed in `session`: read it again, in that unit of work too."""
        self._snapshot = None
        session.info.pop(_CHECKED, None)

    async def changed(self) -> None:
        """A sync committed: drop this copy, and every other worker's."""
        self._snapshot = None
        if self._version is not None:
            await self._version.bump()

    async def snapshot(self, session: AsyncSession) -> _Snapshot:
        """The active categories, read once in `session` after start-up or a sync."""
        if self._version is None:
            if self._snapshot is None:
                self._snapshot = await _load(session)
            return self._snapshot
        checked: _Snapshot | None = session.info.get(_CHECKED)
        if checked is not None:
            return checked  # the version was read once in this unit of work
        # Read before the table: a sync that commits during the read below moves the
        # version on after it, so a copy that missed it is read again next time.
        version = await self._version.current()
        if version != self._seen or self._snapshot is None:
            self._snapshot = await _load(session)
            self._seen = version
        session.info[_CHECKED] = self._snapshot
        return self._snapshot

    async def roots(self, session: AsyncSession) -> list[CategoryInfo]:
        return list((await self.snapshot(session)).by_parent.get(None, []))

    async def children(self, session: AsyncSession, parent_id: int) -> list[CategoryInfo]:
        return list((await self.snapshot(session)).by_parent.get(parent_id, []))

    async def by_code(self, session: AsyncSession, code: str) -> CategoryInfo | None:
        return (await self.snapshot(session)).by_code.get(code)


async def _load(session: AsyncSession) -> _Snapshot:
    query = (
        select(Category).where(Category.active.is_(True)).order_by(Category.position, Category.id)
    )
    rows = list((await session.execute(query)).scalars())
    # An active sub-category makes its parent a menu rather than a choice.
    parents = {row.parent_id for row in rows if row.parent_id is not None}
    by_parent: dict[int | None, list[CategoryInfo]] = {}
    by_code: dict[str, CategoryInfo] = {}
    for row in rows:
        info = category_info(row, row.id in parents)
        by_parent.setdefault(row.parent_id, []).append(info)
        by_code[row.code] = info
    return _Snapshot(by_parent=by_parent, by_code=by_code)
