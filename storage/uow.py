"""One unit of work per incoming event: a session, its repositories, one commit at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage._hot import commit, forget_held
from storage.accounts import AccountCache, AccountRepository
from storage.appeals import AppealRepository
from storage.appointments import AppointmentPendingRepository, AppointmentRepository
from storage.calls import CallRepository
from storage.categories import CategoryRepository
from storage.category_cache import CategoryCatalogue
from storage.conversation import ConversationRepository
from storage.database import Sessions
from storage.departments import DepartmentRepository
from storage.identity import IdentityRepository
from storage.media_refs import MediaRefs
from storage.outbox import OutboxRepository
from storage.outbox_queue import OutboxQueue
from storage.pending_actions import PendingActionRepository
from storage.processed_updates import ProcessedUpdateRepository, RecentClaims
from storage.staff_chat import StaffRepository

# The session of the event being handled. The FSM storage joins it, so a dialog step's state
# change commits or rolls back together with what the step wrote.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


class UnitOfWork:
    """The index of the stores: one attribute per store, all over the event's one session.
    Each comment names the module that holds the store."""

    session: AsyncSession
    # A resident's messenger chats: locale, subscription (storage.accounts).
    accounts: AccountRepository
    # Residents, their verified phones, linking codes, the account journal (storage.identity).
    identity: IdentityRepository
    # The categories file as stored (storage.categories).
    categories: CategoryRepository
    # Departments and which executors' chat holds an appeal (storage.departments).
    departments: DepartmentRepository
    # Appeals: rows, history, media, the resident's and the staff's views (storage.appeals).
    appeals: AppealRepository
    # Appeals taken by phone (storage.calls).
    calls: CallRepository
    # Operators' messages the resident's conversation follows (storage.conversation).
    conversation: ConversationRepository
    # Staff-chat messages per appeal and forum topics per category (storage.staff_chat).
    staff: StaffRepository
    # The desk's two-step actions waiting for an operator's answer (storage.pending_actions).
    pending: PendingActionRepository
    # Notifications to deliver after the commit (storage.outbox) ...
    outbox: OutboxRepository
    # ... and what the sender reads across chats (storage.outbox_queue).
    outbox_queue: OutboxQueue
    # Messenger updates already handled (storage.processed_updates).
    updates: ProcessedUpdateRepository
    # Media files still referenced by appeals (storage.media_refs).
    media_refs: MediaRefs

    def __init__(
        self,
        session: AsyncSession,
        on_outbox: Callable[[], None] | None = None,
        catalogue: CategoryCatalogue | None = None,
        accounts: AccountCache | None = None,
    ) -> None:
        self.session = session
        self._on_outbox = on_outbox
        self.accounts = AccountRepository(session, accounts)
        self.identity = IdentityRepository(session)
        self.categories = CategoryRepository(session, catalogue)
        self.departments = DepartmentRepository(session)
        self.appeals = AppealRepository(session)
        self.calls = CallRepository(session)
        self.conversation = ConversationRepository(session)
        self.staff = StaffRepository(session)
        self.pending = PendingActionRepository(session)
        self.outbox = OutboxRepository(session)
        self.outbox_queue = OutboxQueue(session, self.outbox)
        self.updates = ProcessedUpdateRepository(session)
        self.media_refs = MediaRefs(session)
        self.appointments = AppointmentRepository(session)
        self.appointment_pending = AppointmentPendingRepository(session)

    async def commit(self) -> None:
        # Writes held for the commit go in the same transaction (the dialog state:
        # storage.fsm), so that they commit or roll back with everything else.
        await commit(self.session)
        if self.outbox.added and self._on_outbox is not None:
            # Wake the sender now rather than at its next poll.
            self.outbox.added = 0
            self._on_outbox()


class UnitOfWorkFactory:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        # Categories in process where one process owns the database (storage.category_cache).
        self.catalogue = CategoryCatalogue() if sessions.single_process else None
        # Updates claimed lately, where the claim waits for the commit (bot.once).
        self.recent_claims = RecentClaims() if sessions.single_process else None
        # Accounts by chat, likewise where one process owns the database (storage.accounts).
        self.accounts_cache: AccountCache | None = None
        if sessions.single_process:
            self.accounts_cache = AccountCache()
            self.accounts_cache.watch(sessions.session_class)
        # Set by whoever delivers the outbox; called after a commit that queued something.
        self.on_outbox: Callable[[], None] | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work bound to the current context; rolled back unless committed."""
        async with self.sessions() as session:
            token = current_session.set(session)
            try:
                yield UnitOfWork(session, self.on_outbox, self.catalogue, self.accounts_cache)
            finally:
                current_session.reset(token)
                forget_held(session)
                if session.in_transaction():
                    await session.rollback()
