"""What the domain needs from storage, stated by the domain: one Protocol per store and the
unit of work that holds them.

Storage's repositories satisfy these structurally (mypy checks it where the composition root
hands the storage unit of work to the domain); the domain never imports storage, SQLAlchemy or a
messenger library, so it can be read alone and tested with in-memory fakes. The methods are the
ones the domain calls, no more; the stores flush and never commit (the unit of work commits at the
edge, after the event).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from domain.departments import Assignment, DepartmentSpec
from domain.dialog.events import Channel, GeoPoint
from domain.entities import (
    Account,
    AppealDetail,
    AppealState,
    AppealSummary,
    CategoryInfo,
    HistoryEntry,
    NewMedia,
    OperatorMessage,
    StaffView,
    StoredMedia,
)
from domain.kinds import EventKind, MediaRole, OutboxKind
from domain.statuses import Status

if TYPE_CHECKING:
    # The appointments module defines its own store and uses this module's outbox port.
    from domain.appointments import AppointmentStore


class AccountStore(Protocol):
    """Messenger accounts: who wrote, in which language."""

    async def get_or_create(
        self,
        channel: Channel,
        external_id: str,
        *,
        display_name: str | None,
        now: datetime,
        locale: str | None = None,
    ) -> Account:
        """The chat's account; one made here starts with `locale`."""
        ...

    async def by_id(self, account_id: int) -> Account | None: ...

    async def set_locale(self, account_id: int, locale: str) -> None: ...


class CategoryStore(Protocol):
    """The city's categories and the departments behind them."""

    async def roots(self) -> list[CategoryInfo]: ...

    async def children(self, parent_id: int) -> list[CategoryInfo]: ...

    async def by_code(self, code: str) -> CategoryInfo | None: ...

    async def by_id(self, category_id: int) -> CategoryInfo | None: ...

    async def departments(self) -> list[str]: ...

    async def department_name(self, department: str, locale: str) -> str:
        """A department as a reader of `locale` reads it."""
        ...


class DepartmentStore(Protocol):
    """The departments file as stored, and which executors' chat holds an appeal."""

    async def by_code(self, code: str) -> DepartmentSpec | None: ...

    async def by_name(self, name: str) -> DepartmentSpec | None:
        """The department whose Ukrainian name an appeal keeps."""
        ...

    async def by_chat(self, chat_id: int) -> DepartmentSpec | None: ...

    async def assign(self, appeal_id: int, code: str, chat_id: int, now: datetime) -> None: ...

    async def release(self, appeal_id: int) -> None: ...

    async def assignment(self, appeal_id: int) -> Assignment | None: ...

    async def overdue_held(self, now: datetime, limit: int = ...) -> list[Assignment]: ...

    async def claim_reminder(self, appeal_id: int, now: datetime, before: datetime) -> bool:
        """True when this caller sends the reminder (none sent since `before`)."""
        ...

    async def claim_escalation(self, appeal_id: int, now: datetime, before: datetime) -> bool: ...


class AppealStore(Protocol):
    """Appeals, their history and their media."""

    async def next_sequence(self, prefix: str, year: int) -> int:
        """The next number of the year; concurrent filers get different numbers."""
        ...

    async def add(
        self,
        *,
        number: str,
        resident_id: int,
        account_id: int,
        channel: Channel,
        category_id: int,
        status: Status,
        location: GeoPoint | None,
        address: str | None,
        description: str,
        media: Sequence[NewMedia],
        created_at: datetime,
        due_at: datetime,
        actor_kind: str,
        actor_id: str,
        card_chat: str | None,
    ) -> None:
        """File the appeal with its media, its first event (to `status`, by the actor) and,
        with `card_chat`, its staff card queued there. The stores may hold the writes until
        the unit of work commits: nothing reads the new appeal before that."""
        ...

    async def page_for_resident(
        self, resident_id: int, *, offset: int, limit: int
    ) -> tuple[list[AppealSummary], int]: ...

    async def detail_for_resident(self, appeal_id: int, resident_id: int) -> AppealDetail | None:
        """The appeal if it is this resident's; another resident's is simply not found."""
        ...

    async def get(self, appeal_id: int, *, lock: bool = False) -> AppealState | None:
        """With lock=True, concurrent changes of the same appeal apply one after the other."""
        ...

    async def id_by_number(self, number: str) -> int | None: ...

    async def staff_view(self, appeal_id: int) -> StaffView | None:
        """Everything a card shows (the executors' card too)."""
        ...

    async def set_department(self, appeal_id: int, department: str, now: datetime) -> None: ...

    async def set_status(
        self,
        appeal_id: int,
        status: Status,
        now: datetime,
        *,
        department: str | None = None,
        duplicate_of_id: int | None = None,
    ) -> None: ...

    async def add_event(
        self,
        appeal_id: int,
        *,
        at: datetime,
        kind: EventKind,
        actor_kind: str,
        actor_id: str | None,
        actor_name: str | None = None,
        from_status: Status | None = None,
        to_status: Status | None = None,
        note: str | None = None,
    ) -> None: ...

    async def add_media(
        self, appeal_id: int, items: Sequence[NewMedia], role: MediaRole
    ) -> None: ...

    async def media(self, appeal_id: int, role: str | None = None) -> list[StoredMedia]: ...

    async def history(self, appeal_id: int) -> list[HistoryEntry]: ...

    async def overdue(
        self, now: datetime, reminded_before: datetime, limit: int = ...
    ) -> list[int]:
        """Workable, past due, and not reminded since `reminded_before`."""
        ...

    async def mark_reminded(self, appeal_ids: Sequence[int], now: datetime) -> None: ...

    async def done_before(self, moment: datetime, limit: int = ...) -> list[int]:
        """Done appeals whose status has not changed since `moment`."""
        ...


class CallStore(Protocol):
    """Phone appeals: what a caller told an operator."""

    async def add(
        self,
        *,
        number: str,
        resident_id: int | None,
        category_id: int,
        location: GeoPoint | None,
        address: str | None,
        description: str,
        created_at: datetime,
        due_at: datetime,
        caller_phone: str,
        caller_name: str | None,
        operator_id: str,
        operator_name: str,
        status: Status,
    ) -> int: ...


class ConversationStore(Protocol):
    """What operators last said to a resident."""

    async def last_operator_message(
        self, account_id: int, resident_id: int, since: datetime
    ) -> OperatorMessage | None: ...


class LinkCode(Protocol):
    """A one-time code that proves two accounts are one person, as stored."""

    @property
    def id(self) -> int: ...
    @property
    def requester_id(self) -> int: ...
    @property
    def target_id(self) -> int: ...
    @property
    def code_hash(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def attempts(self) -> int: ...
    @property
    def status(self) -> str: ...


class AppealContact(Protocol):
    """The number behind an appeal and how much it can be trusted."""

    @property
    def phone(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def verified(self) -> bool: ...
    # A phone appeal: the number the caller gave the operator.
    @property
    def by_phone(self) -> bool: ...


class IdentityStore(Protocol):
    """Residents, their accounts and phone numbers, and the codes that link accounts."""

    async def register_phone(
        self,
        account_id: int,
        phone: str,
        *,
        verified: bool,
        now: datetime,
        actor_kind: str,
        actor_id: str | None,
    ) -> None:
        """Keep the number on this account (recorded in its journal), with a resident of its
        own if it has none; a verified number brings the phone appeals that waited for it.
        The stores may hold the writes until the unit of work commits."""
        ...

    async def waiting_calls(self, phone: str) -> list[str]:
        """Numbers of the phone appeals that wait for this number to be verified."""
        ...

    async def account(self, account_id: int) -> Account | None: ...

    async def verified_owner(self, phone: str) -> Account | None:
        """The account that verified this number most recently."""
        ...

    async def accounts_of(self, resident_id: int) -> list[Account]: ...

    async def join(self, account_id: int, resident_id: int) -> None: ...

    async def merge(self, from_resident: int, into_resident: int) -> None: ...

    async def give_appeal(self, appeal_id: int, resident_id: int) -> None: ...

    async def separate(self, account_id: int, now: datetime) -> int | None:
        """Give the account a resident of its own again; the new resident's id."""
        ...

    async def record(
        self,
        kind: str,
        account_id: int,
        *,
        at: datetime,
        actor_kind: str,
        actor_id: str | None = None,
        actor_name: str | None = None,
        other_account_id: int | None = None,
        link_code_id: int | None = None,
        note: str | None = None,
    ) -> None: ...

    async def appeal_contact(self, appeal_id: int) -> AppealContact | None: ...

    async def add_code(
        self, requester_id: int, target_id: int, code_hash: str, now: datetime, expires: datetime
    ) -> int: ...

    async def pending_code(self, requester_id: int) -> LinkCode | None: ...

    async def codes_since(self, account_ids: Sequence[int], since: datetime) -> int:
        """Codes asked for by or sent to these accounts since then (a flood limit)."""
        ...

    async def update_code(self, code_id: int, *, attempts: int, status: str) -> None: ...

    async def close_pending(self, requester_id: int, status: str) -> None: ...


class OutboxStore(Protocol):
    """Messages to send after the unit of work commits."""

    async def add(
        self,
        *,
        channel: Channel,
        chat: str,
        kind: OutboxKind,
        payload: dict[str, Any],
        now: datetime,
        appeal_id: int | None = None,
    ) -> int: ...


class StaffMessageStore(Protocol):
    """Which appeal a message in the staff chat is about."""

    async def appeal_of(self, chat_id: int, message_id: int) -> int | None: ...


class UnitOfWork(Protocol):
    """The stores of the event being handled, all in one transaction that the edge commits."""

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def categories(self) -> CategoryStore: ...
    @property
    def departments(self) -> DepartmentStore: ...
    @property
    def appeals(self) -> AppealStore: ...
    @property
    def calls(self) -> CallStore: ...
    @property
    def conversation(self) -> ConversationStore: ...
    @property
    def identity(self) -> IdentityStore: ...
    @property
    def outbox(self) -> OutboxStore: ...
    @property
    def staff(self) -> StaffMessageStore: ...
    @property
    def appointments(self) -> AppointmentStore: ...
