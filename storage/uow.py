"""One unit of work per incoming event: a session, its repositories, one commit at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    AccountRepository,
    AppealRepository,
    CategoryRepository,
    ProcessedUpdateRepository,
)

# The session of the event being handled. The FSM storage joins it, so a dialog step's state
# change commits or rolls back together with what the step wrote.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


class UnitOfWork:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.accounts = AccountRepository(session)
        self.categories = CategoryRepository(session)
        self.appeals = AppealRepository(session)
        self.updates = ProcessedUpdateRepository(session)

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class UnitOfWorkFactory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work bound to the current context; rolled back unless committed."""
        async with self.sessions() as session:
            token = current_session.set(session)
            try:
                yield UnitOfWork(session)
            finally:
                current_session.reset(token)
                if session.in_transaction():
                    await session.rollback()
