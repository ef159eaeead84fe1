"""Categories as the categories file defines them: synced at start-up, read by the form."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.categories import CategorySpec
from domain.entities import CategoryInfo
from storage._rows import category_info
from storage._sql import SessionStore
from storage.category_cache import CategoryCatalogue
from storage.models import Category


@functools.cache
def _active_children() -> Any:
    """A column: how many active sub-categories the row's category has. Built once: making
    an aliased subquery costs more CPU than running it."""
    child = aliased(Category)
    return (
        select(func.count(child.id))
        .where(child.parent_id == Category.id, child.active.is_(True))
        .correlate(Category)
        .scalar_subquery()
    )


class CategoryRepository(SessionStore):
    def __init__(self, session: AsyncSession, catalogue: CategoryCatalogue | None = None) -> None:
        super().__init__(session)
        self._catalogue = catalogue
        self._by_code: dict[str, CategoryInfo | None] = {}

    async def sync(self, specs: Sequence[CategorySpec]) -> None:
        """Make the table match the file: update by code, add new ones, retire missing ones."""
        existing = {
            row.code: row for row in (await self._session.execute(select(Category))).scalars()
        }
        seen: set[str] = set()

        def upsert(spec: CategorySpec, parent: Category | None, position: int) -> Category:
            row = existing.get(spec.code)
            if row is None:
                row = Category(code=spec.code)
                self._session.add(row)
            row.parent_id = parent.id if parent else None
            row.names = dict(spec.names)
            row.sla_hours = spec.sla_hours
            row.department = spec.department
            row.department_en = spec.department_en
            row.urgent = spec.urgent
            row.position = position
            row.active = True
            seen.add(spec.code)
            return row

        for position, spec in enumerate(specs):
            parent = upsert(spec, None, position)
            await self._session.flush()
            for child_position, child in enumerate(spec.children):
                upsert(child, parent, child_position)
        for code, row in existing.items():
            if code not in seen:
                row.active = False
        await self._session.flush()
        if self._catalogue is not None:
            self._catalogue.invalidate(self._session)

    async def _list(self, parent_id: int | None) -> list[CategoryInfo]:
        query = (
            select(Category, _active_children())
            .where(Category.active.is_(True))
            .where(
                Category.parent_id.is_(None)
                if parent_id is None
                else Category.parent_id == parent_id
            )
            .order_by(Category.position, Category.id)
        )
        rows = (await self._session.execute(query)).all()
        return [category_info(row, count > 0) for row, count in rows]

    async def roots(self) -> list[CategoryInfo]:
        if self._catalogue is not None:
            return await self._catalogue.roots(self._session)
        return await self._list(None)

    async def children(self, parent_id: int) -> list[CategoryInfo]:
        if self._catalogue is not None:
            return await self._catalogue.children(self._session, parent_id)
        return await self._list(parent_id)

    async def by_code(self, code: str) -> CategoryInfo | None:
        if self._catalogue is not None:
            return await self._catalogue.by_code(self._session, code)
        # A dialog step asks for the same category several times; categories change only
        # when the file is loaded at start-up, so one lookup per unit of work is enough.
        if code not in self._by_code:
            found = (
                await self._session.execute(
                    select(Category, _active_children()).where(
                        Category.code == code, Category.active.is_(True)
                    )
                )
            ).one_or_none()
            self._by_code[code] = category_info(found[0], found[1] > 0) if found else None
        return self._by_code[code]

    async def departments(self) -> list[str]:
        query = (
            select(Category.department)
            .where(Category.active.is_(True))
            .distinct()
            .order_by(Category.department)
        )
        return list((await self._session.execute(query)).scalars())

    async def department_name(self, department: str, locale: str) -> str:
        """A department as the resident reads it: its English name where the categories file
        gives one, otherwise as stored (Ukrainian)."""
        if locale == "uk":
            return department
        query = (
            select(Category.department_en)
            .where(Category.department == department, Category.department_en.is_not(None))
            .order_by(Category.active.desc(), Category.id)
            .limit(1)
        )
        translated = (await self._session.execute(query)).scalar_one_or_none()
        return translated or department

    async def by_id(self, category_id: int) -> CategoryInfo | None:
        row = await self._session.get(Category, category_id)
        return category_info(row, False) if row else None
