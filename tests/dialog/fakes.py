"""In-memory stand-ins for the domain's ports (`domain.ports`): enough of a city to drive the
dialog without a database. mypy checks that `FakeUnitOfWork` satisfies `domain.ports.UnitOfWork`,
so a port that changes breaks these fakes at type-check time, not at run time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from domain.appointments import AppointmentStore
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
from domain.ports import AppealContact, LinkCode
from domain.statuses import Status


class _Untouched:
    """A store these tests must not reach: any use of it fails the test."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise _unused(f"{self._what}.{name}")


def _unused(what: str) -> AssertionError:
    # A fake answers only what the tests drive; anything else is a test that outgrew it.
    return AssertionError(f"the fake does not model {what}")


class FakeState:
    """`domain.dialog.state.DialogState` in a dict."""

    def __init__(self) -> None:
        self.step: str | None = None
        self.data: dict[str, Any] = {}

    async def get_state(self) -> str | None:
        return self.step

    async def set_state(self, state: str | None = None) -> None:
        self.step = state

    async def get_data(self) -> dict[str, Any]:
        return dict(self.data)

    async def set_data(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    async def clear(self) -> None:
        self.step, self.data = None, {}


class FakeAccounts:
    def __init__(self) -> None:
        self.rows: dict[int, Account] = {}

    async def get_or_create(
        self,
        channel: Channel,
        external_id: str,
        *,
        display_name: str | None,
        now: datetime,
        locale: str | None = None,
    ) -> Account:
        for account in self.rows.values():
            if account.channel is channel and account.external_id == external_id:
                return account
        account = Account(len(self.rows) + 1, channel, external_id, None, locale)
        self.rows[account.id] = account
        return account

    async def by_id(self, account_id: int) -> Account | None:
        return self.rows.get(account_id)

    async def set_locale(self, account_id: int, locale: str) -> None:
        self.rows[account_id] = replace(self.rows[account_id], locale=locale)


class FakeCategories:
    def __init__(self, categories: Sequence[CategoryInfo]) -> None:
        self.rows = list(categories)

    async def roots(self) -> list[CategoryInfo]:
        return [c for c in self.rows if c.parent_id is None]

    async def children(self, parent_id: int) -> list[CategoryInfo]:
        return [c for c in self.rows if c.parent_id == parent_id]

    async def by_code(self, code: str) -> CategoryInfo | None:
        return next((c for c in self.rows if c.code == code), None)

    async def by_id(self, category_id: int) -> CategoryInfo | None:
        return next((c for c in self.rows if c.id == category_id), None)

    async def departments(self) -> list[str]:
        return sorted({c.department for c in self.rows})

    async def department_name(self, department: str, locale: str) -> str:
        return department


@dataclass
class FakeAppeal:
    number: str
    resident_id: int
    account_id: int
    category_id: int
    location: GeoPoint | None
    address: str | None
    description: str
    media: list[NewMedia]
    created_at: datetime
    due_at: datetime
    status: Status = Status.NEW
    events: list[tuple[EventKind, Status | None]] = field(default_factory=list)


class FakeAppeals:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.outbox = outbox
        self.rows: dict[int, FakeAppeal] = {}
        self.sequences: dict[tuple[str, int], int] = {}

    async def next_sequence(self, prefix: str, year: int) -> int:
        self.sequences[prefix, year] = self.sequences.get((prefix, year), 0) + 1
        return self.sequences[prefix, year]

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
        appeal_id = len(self.rows) + 1
        self.rows[appeal_id] = FakeAppeal(
            number,
            resident_id,
            account_id,
            category_id,
            location,
            address,
            description,
            list(media),
            created_at,
            due_at,
            status=status,
            events=[(EventKind.STATUS, status)],
        )
        if card_chat is not None:
            self.outbox.items.append((card_chat, OutboxKind.CARD, appeal_id))

    async def page_for_resident(
        self, resident_id: int, *, offset: int, limit: int
    ) -> tuple[list[AppealSummary], int]:
        raise _unused("«My appeals»")

    async def detail_for_resident(self, appeal_id: int, resident_id: int) -> AppealDetail | None:
        raise _unused("an appeal's details")

    async def get(self, appeal_id: int, *, lock: bool = False) -> AppealState | None:
        row = self.rows.get(appeal_id)
        if row is None:
            return None
        return AppealState(
            appeal_id,
            row.number,
            row.status,
            row.resident_id,
            row.account_id,
            row.category_id,
            None,
            row.due_at,
            row.created_at,
            None,
            None,
            None,
        )

    async def id_by_number(self, number: str) -> int | None:
        return next((i for i, row in self.rows.items() if row.number == number), None)

    async def set_department(self, appeal_id: int, department: str, now: datetime) -> None:
        raise _unused("departments")

    async def staff_view(self, appeal_id: int) -> StaffView | None:
        raise _unused("staff cards")

    async def set_status(
        self,
        appeal_id: int,
        status: Status,
        now: datetime,
        *,
        department: str | None = None,
        duplicate_of_id: int | None = None,
    ) -> None:
        self.rows[appeal_id].status = status

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
    ) -> None:
        self.rows[appeal_id].events.append((kind, to_status))

    async def add_media(self, appeal_id: int, items: Sequence[NewMedia], role: MediaRole) -> None:
        self.rows[appeal_id].media.extend(items)

    async def media(self, appeal_id: int, role: str | None = None) -> list[StoredMedia]:
        raise _unused("stored media")

    async def history(self, appeal_id: int) -> list[HistoryEntry]:
        raise _unused("history")

    async def overdue(
        self, now: datetime, reminded_before: datetime, limit: int = 100
    ) -> list[int]:
        raise _unused("reminders")

    async def mark_reminded(self, appeal_ids: Sequence[int], now: datetime) -> None:
        raise _unused("reminders")

    async def done_before(self, moment: datetime, limit: int = 100) -> list[int]:
        raise _unused("closing done appeals")


class FakeCalls:
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
    ) -> int:
        raise _unused("phone appeals")


class FakeConversation:
    async def last_operator_message(
        self, account_id: int, resident_id: int, since: datetime
    ) -> OperatorMessage | None:
        # Nobody at the desk has written to anyone.
        return None


class FakeIdentity:
    def __init__(self, accounts: FakeAccounts) -> None:
        self._accounts = accounts
        self.records: list[str] = []

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
        account = self._accounts.rows[account_id]
        resident_id = account.resident_id or 100 + account_id
        self._accounts.rows[account_id] = replace(
            account, resident_id=resident_id, phone=phone, phone_verified=verified
        )
        self.records.append("phone_verified" if verified else "phone_claimed")

    async def waiting_calls(self, phone: str) -> list[str]:
        return []

    async def account(self, account_id: int) -> Account | None:
        return self._accounts.rows.get(account_id)

    async def verified_owner(self, phone: str) -> Account | None:
        raise _unused("linking")

    async def accounts_of(self, resident_id: int) -> list[Account]:
        return [a for a in self._accounts.rows.values() if a.resident_id == resident_id]

    async def join(self, account_id: int, resident_id: int) -> None:
        raise _unused("linking")

    async def merge(self, from_resident: int, into_resident: int) -> None:
        raise _unused("linking")

    async def give_appeal(self, appeal_id: int, resident_id: int) -> None:
        raise _unused("linking")

    async def separate(self, account_id: int, now: datetime) -> int | None:
        raise _unused("linking")

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
    ) -> None:
        self.records.append(kind)

    async def appeal_contact(self, appeal_id: int) -> AppealContact | None:
        raise _unused("revealing a phone")

    async def add_code(
        self, requester_id: int, target_id: int, code_hash: str, now: datetime, expires: datetime
    ) -> int:
        raise _unused("linking")

    async def pending_code(self, requester_id: int) -> LinkCode | None:
        raise _unused("linking")

    async def codes_since(self, account_ids: Sequence[int], since: datetime) -> int:
        raise _unused("linking")

    async def update_code(self, code_id: int, *, attempts: int, status: str) -> None:
        raise _unused("linking")

    async def close_pending(self, requester_id: int, status: str) -> None:
        raise _unused("linking")


class FakeOutbox:
    def __init__(self) -> None:
        self.items: list[tuple[str, OutboxKind, int | None]] = []

    async def add(
        self,
        *,
        channel: Channel,
        chat: str,
        kind: OutboxKind,
        payload: dict[str, Any],
        now: datetime,
        appeal_id: int | None = None,
    ) -> int:
        self.items.append((chat, kind, appeal_id))
        return len(self.items)


class FakeStaffMessages:
    async def appeal_of(self, chat_id: int, message_id: int) -> int | None:
        return None


class FakeDepartments:
    """A city without a departments file: no executors' chats, operators act for everyone."""

    async def by_code(self, code: str) -> DepartmentSpec | None:
        return None

    async def by_name(self, name: str) -> DepartmentSpec | None:
        return None

    async def by_chat(self, chat_id: int) -> DepartmentSpec | None:
        return None

    async def assign(self, appeal_id: int, code: str, chat_id: int, now: datetime) -> None:
        raise _unused("executors")

    async def release(self, appeal_id: int) -> None:
        return None

    async def assignment(self, appeal_id: int) -> Assignment | None:
        return None

    async def overdue_held(self, now: datetime, limit: int = 100) -> list[Assignment]:
        return []

    async def claim_reminder(self, appeal_id: int, now: datetime, before: datetime) -> bool:
        raise _unused("executors")

    async def claim_escalation(self, appeal_id: int, now: datetime, before: datetime) -> bool:
        raise _unused("executors")


class FakeUnitOfWork:
    """The domain's `UnitOfWork` over the fakes above; shared across events like a database."""

    def __init__(self, categories: Sequence[CategoryInfo]) -> None:
        self.accounts = FakeAccounts()
        self.categories = FakeCategories(categories)
        self.departments = FakeDepartments()
        self.outbox = FakeOutbox()
        self.appeals = FakeAppeals(self.outbox)
        self.calls = FakeCalls()
        self.conversation = FakeConversation()
        self.identity = FakeIdentity(self.accounts)
        self.staff = FakeStaffMessages()
        # The dialog builds the booking service on every turn; these tests never book.
        self.appointments = cast(AppointmentStore, _Untouched("appointments"))
