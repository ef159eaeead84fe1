"""The active categories held in process, so a dialog step does not query them.

Categories change only when the city's file is loaded at start-up (`sync_categories`), which
drops this copy. It is used only where one process owns the database (SQLite): with several
workers on PostgreSQL another worker's start-up could change the table behind this copy, so
there the repository keeps reading the table until invalidation crosses workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.entities import CategoryInfo
from storage._rows import category_info
from storage.models import Category


@dataclass(frozen=True)
class _Snapshot:
    by_parent: dict[int | None, list[CategoryInfo]]
    by_code: dict[str, CategoryInfo]


class CategoryCatalogue:
    def __init__(self) -> None:
        self._snapshot: _Snapshot | None = None

    def invalidate(self) -> None:
        self._snapshot = None

    async def snapshot(self, session: AsyncSession) -> _Snapshot:
        """The active categories, read once in `session` after start-up or a sync."""
        if self._snapshot is None:
            self._snapshot = await _load(session)
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
