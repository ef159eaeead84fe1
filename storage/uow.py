"""One unit of work per incoming event: a session, its repositories, one commit at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.appointments import AppointmentPendingRepository, AppointmentRepository
from storage.calls import CallRepository
from storage.category_cache import CategoryCatalogue
from storage.conversation import ConversationRepository
from storage.database import Sessions
from storage.identity import IdentityRepository
from storage.media_refs import MediaRefs
from storage.outbox_queue import OutboxQueue
from storage.pending_actions import PendingActionRepository
from storage.repositories import (
    AccountRepository,
    AppealRepository,
    CategoryRepository,
    OutboxRepository,
    ProcessedUpdateRepository,
    StaffRepository,
)

# The session of the event being handled. The FSM storage joins it, so a dialog step's state
# change commits or rolls back together with what the step wrote.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


class UnitOfWork:
    def __init__(
        self,
        session: AsyncSession,
        on_outbox: Callable[[], None] | None = None,
        catalogue: CategoryCatalogue | None = None,
    ) -> None:
        self.session = session
        self._on_outbox = on_outbox
        self.accounts = AccountRepository(session)
        self.categories = CategoryRepository(session, catalogue)
        self.appeals = AppealRepository(session)
        self.updates = ProcessedUpdateRepository(session)
        self.staff = StaffRepository(session)
        self.outbox = OutboxRepository(session)
        self.pending = PendingActionRepository(session)
        self.identity = IdentityRepository(session)
        self.calls = CallRepository(session)
        self.conversation = ConversationRepository(session)
        self.outbox_queue = OutboxQueue(session)
        self.media_refs = MediaRefs(session)
        self.appointments = AppointmentRepository(session)
        self.appointment_pending = AppointmentPendingRepository(session)

    async def commit(self) -> None:
        await self.session.commit()
        if self.outbox.added and self._on_outbox is not None:
            # Wake the sender now rather than at its next poll.
            self.outbox.added = 0
            self._on_outbox()


class UnitOfWorkFactory:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        # Categories in process where one process owns the database (storage.category_cache).
        self.catalogue = CategoryCatalogue() if sessions.single_process else None
        # Set by whoever delivers the outbox; called after a commit that queued something.
        self.on_outbox: Callable[[], None] | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work bound to the current context; rolled back unless committed."""
        async with self.sessions() as session:
            token = current_session.set(session)
            try:
                yield UnitOfWork(session, self.on_outbox, self.catalogue)
            finally:
                current_session.reset(token)
                if session.in_transaction():
                    await session.rollback()
