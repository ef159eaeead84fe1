"""One unit of work per incoming event: a session, its repositories, one commit at the edge."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from storage._hot import commit, forget_held
from storage.accounts import (
    AccountCache,
    AccountRepository,
    AccountVersions,
    SharedAccountCache,
    account_bumps,
)
from storage.appeals import AppealRepository, Numbers
from storage.appointments import AppointmentPendingRepository, AppointmentRepository
from storage.calls import CallRepository
from storage.categories import CategoryRepository
from storage.category_cache import CatalogueVersion, CategoryCatalogue
from storage.conversation import ConversationRepository
from storage.database import READING, Sessions
from storage.departments import DepartmentRepository
from storage.identity import IdentityRepository
from storage.media_refs import MediaRefs
from storage.outbox import OutboxRepository
from storage.outbox_queue import OutboxQueue
from storage.pending_actions import PendingActionRepository
from storage.processed_updates import ProcessedUpdateRepository, RecentClaims
from storage.staff_chat import StaffRepository

logger = logging.getLogger(__name__)

# The session of the event being handled. The FSM storage joins it, so a dialog step's state
# change commits or rolls back together with what the step wrote.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


class UnitOfWork:
    """The index of the stores: one attribute per store, all over the event's one session.
    Each comment names the module that holds the store."""

    def __init__(
        self,
        session: AsyncSession,
        on_outbox: Callable[[], None] | None = None,
        catalogue: CategoryCatalogue | None = None,
        accounts: AccountCache | None = None,
        numbers: Numbers | None = None,
    ) -> None:
        self.session = session
        self._on_outbox = on_outbox
        self._catalogue = catalogue
        self._accounts = accounts
        self._numbers = numbers

    # Each store is made when first used: an update uses two or three of them.

    @cached_property
    def accounts(self) -> AccountRepository:
        """A resident's messenger chats: locale, subscription (storage.accounts)."""
        return AccountRepository(self.session, self._accounts)

    @cached_property
    def identity(self) -> IdentityRepository:
        """Residents, their verified phones, linking codes, the account journal
        (storage.identity)."""
        return IdentityRepository(self.session, self._accounts)

    @cached_property
    def categories(self) -> CategoryRepository:
        """The categories file as stored (storage.categories)."""
        return CategoryRepository(self.session, self._catalogue)

    @cached_property
    def departments(self) -> DepartmentRepository:
        """Departments and which executors' chat holds an appeal (storage.departments)."""
        return DepartmentRepository(self.session)

    @cached_property
    def appeals(self) -> AppealRepository:
        """Appeals: rows, history, media, the resident's and the staff's views (storage.appeals)."""
        return AppealRepository(self.session, self._numbers, self._card_queued)

    def _card_queued(self) -> None:
        self.outbox.added += 1  # the commit wakes the sender

    @cached_property
    def calls(self) -> CallRepository:
        """Appeals taken by phone (storage.calls)."""
        return CallRepository(self.session)

    @cached_property
    def conversation(self) -> ConversationRepository:
        """Operators' messages the resident's conversation follows (storage.conversation)."""
        return ConversationRepository(self.session)

    @cached_property
    def staff(self) -> StaffRepository:
        """Staff-chat messages per appeal and forum topics per category (storage.staff_chat)."""
        return StaffRepository(self.session)

    @cached_property
    def pending(self) -> PendingActionRepository:
        """The desk's two-step actions waiting for an operator's answer
        (storage.pending_actions)."""
        return PendingActionRepository(self.session)

    @cached_property
    def outbox(self) -> OutboxRepository:
        """Notifications to deliver after the commit (storage.outbox) ..."""
        return OutboxRepository(self.session)

    @cached_property
    def outbox_queue(self) -> OutboxQueue:
        """... and what the sender reads across chats (storage.outbox_queue)."""
        return OutboxQueue(self.session, self.outbox)

    @cached_property
    def updates(self) -> ProcessedUpdateRepository:
        """Messenger updates already handled (storage.processed_updates)."""
        return ProcessedUpdateRepository(self.session)

    @cached_property
    def media_refs(self) -> MediaRefs:
        """Media files still referenced by appeals (storage.media_refs)."""
        return MediaRefs(self.session)

    @cached_property
    def appointments(self) -> AppointmentRepository:
        """Appointments with officials (storage.appointments) ..."""
        return AppointmentRepository(self.session)

    @cached_property
    def appointment_pending(self) -> AppointmentPendingRepository:
        """... and the officials' two-step answers waiting (storage.appointments)."""
        return AppointmentPendingRepository(self.session)

    async def commit(self) -> None:
        # Writes held for the commit go in the same transaction (the dialog state:
        # storage.fsm), so that they commit or roll back with everything else.
        if self.session.info.get(READING):
            raise RuntimeError("a unit of work that only reads cannot commit")
        if self._accounts is not None and self._accounts.shared:
            await self._commit_sharing_accounts()
        else:
            await commit(self.session)
        outbox: OutboxRepository | None = self.__dict__.get("outbox")
        if outbox is not None and outbox.added and self._on_outbox is not None:
            # Wake the sender now rather than at its next poll.
            outbox.added = 0
            self._on_outbox()

    async def _commit_sharing_accounts(self) -> None:
        """Where workers share their account caches, the versions of the accounts this unit
        of work changed move on right before the commit and again right after it (storage.
        accounts `SharedAccountCache`). Held writes and the ORM's flush (run first here) note
        their changes as they run, so the first bump is the last write outside the database,
        which comes after them."""
        info = self.session.info
        if self.session.new or self.session.dirty or self.session.deleted:
            await self.session.flush()
        assert isinstance(self._accounts, SharedAccountCache)
        self._accounts.bump_before_commit(self.session)
        await commit(self.session)
        bump = account_bumps(info)
        if bump is None:
            return
        try:
            await bump()
        except Exception as exc:
            # Committed: other workers keep their copies until that account's next change.
            logger.error("accounts' versions not moved on after a commit: %s", type(exc).__name__)


class UnitOfWorkFactory:
    def __init__(
        self,
        sessions: Sessions,
        categories: CatalogueVersion | None = None,
        accounts: AccountVersions | None = None,
    ) -> None:
        self.sessions = sessions
        # Categories in process where one process owns the database, or where the workers
        # share their version (storage.category_cache).
        self.catalogue = (
            CategoryCatalogue(categories)
            if sessions.single_process or categories is not None
            else None
        )
        # Updates claimed lately, where the claim waits for the commit (bot.once).
        self.recent_claims = RecentClaims() if sessions.single_process else None
        # Accounts by chat, likewise where one process owns the database (storage.accounts).
        self.accounts_cache: AccountCache | None = None
        # Appeal numbers, likewise (storage.appeals).
        self.numbers = Numbers() if sessions.single_process else None
        if sessions.single_process:
            self.accounts_cache = AccountCache()
        elif accounts is not None:
            # Workers sharing Redis: each keeps its own, checked against shared versions.
            self.accounts_cache = SharedAccountCache(accounts)
        if self.accounts_cache is not None:
            self.accounts_cache.watch(sessions.session_class)
        # Set by whoever delivers the outbox; called after a commit that queued something.
        self.on_outbox: Callable[[], None] | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work bound to the current context; rolled back unless committed."""
        async with self._unit(self.sessions()) as uow:
            yield uow

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that only reads, where its reads need not see one snapshot (the
        sender's next rows, a card's appeal): on PostgreSQL without a transaction around
        them (`Sessions.reading`). It cannot commit."""
        async with self._unit(self.sessions.reading()) as uow:
            yield uow

    @asynccontextmanager
    async def _unit(
        self, opened: AbstractAsyncContextManager[AsyncSession]
    ) -> AsyncIterator[UnitOfWork]:
        async with opened as session:
            token = current_session.set(session)
            try:
                yield UnitOfWork(
                    session, self.on_outbox, self.catalogue, self.accounts_cache, self.numbers
                )
            finally:
                current_session.reset(token)
                forget_held(session)
                if session.in_transaction():
                    await session.rollback()
