"""Repositories: all SQL lives here. They flush, never commit; the unit of work commits."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.categories import CategorySpec
from domain.dialog.events import Channel, GeoPoint, MediaKind
from domain.entities import (
    Account,
    AppealChannel,
    AppealDetail,
    AppealState,
    AppealSummary,
    CallOrigin,
    CategoryInfo,
    HistoryEntry,
    NewMedia,
    OutboxItem,
    StaffView,
    StoredMedia,
)
from domain.statuses import Status
from storage.category_cache import CategoryCatalogue
from storage.models import (
    Appeal,
    AppealCounter,
    AppealEvent,
    AppealMedia,
    Category,
    ChannelAccount,
    OutboxMessage,
    ProcessedUpdate,
    StaffMessage,
    StaffTopic,
)


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _account(row: ChannelAccount) -> Account:
    return Account(
        id=row.id,
        channel=Channel(row.channel),
        external_id=row.external_id,
        resident_id=row.resident_id,
        locale=row.locale,
        phone=row.phone,
        phone_verified=row.phone_verified_at is not None,
    )


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _row(self, channel: Channel, external_id: str) -> ChannelAccount | None:
        query = select(ChannelAccount).where(
            ChannelAccount.channel == channel.value, ChannelAccount.external_id == external_id
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def get_or_create(
        self, channel: Channel, external_id: str, *, display_name: str | None, now: datetime
    ) -> Account:
        row = await self._row(channel, external_id)
        if row is None:
            row = ChannelAccount(
                channel=channel.value,
                external_id=external_id,
                telegram_id=int(external_id) if channel is Channel.TELEGRAM else None,
                display_name=(display_name or "")[:128] or None,
                subscribed=True,
                created_at=now,
            )
            self._session.add(row)
            await self._session.flush()
        return _account(row)

    async def by_id(self, account_id: int) -> Account | None:
        row = await self._session.get(ChannelAccount, account_id)
        return _account(row) if row else None

    async def locale_of(self, channel: Channel, external_id: str) -> str | None:
        row = await self._row(channel, external_id)
        return row.locale if row else None

    async def set_subscribed(self, channel: Channel, external_id: str, subscribed: bool) -> None:
        await self._session.execute(
            update(ChannelAccount)
            .where(
                ChannelAccount.channel == channel.value, ChannelAccount.external_id == external_id
            )
            .values(subscribed=subscribed)
        )

    async def is_subscribed(self, channel: Channel, external_id: str) -> bool:
        row = await self._row(channel, external_id)
        return row is not None and row.subscribed

    async def set_locale(self, account_id: int, locale: str) -> None:
        await self._session.execute(
            update(ChannelAccount).where(ChannelAccount.id == account_id).values(locale=locale)
        )


def _category(row: Category, has_children: bool) -> CategoryInfo:
    return CategoryInfo(
        id=row.id,
        code=row.code,
        names=dict(row.names),
        sla_hours=row.sla_hours,
        department=row.department,
        parent_id=row.parent_id,
        has_children=has_children,
        urgent=bool(row.urgent),
        department_en=row.department_en,
    )


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


class CategoryRepository:
    def __init__(self, session: AsyncSession, catalogue: CategoryCatalogue | None = None) -> None:
        self._session = session
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
            self._catalogue.invalidate()

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
        return [_category(row, count > 0) for row, count in rows]

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
            self._by_code[code] = _category(found[0], found[1] > 0) if found else None
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
        return _category(row, False) if row else None


class AppealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_sequence(self, prefix: str, year: int) -> int:
        """The next number of the year; the row lock serialises concurrent filers."""
        await self._session.execute(
            _insert(self._session)(AppealCounter)
            .values(prefix=prefix, year=year, last_value=0)
            .on_conflict_do_nothing(index_elements=["prefix", "year"])
        )
        result = await self._session.execute(
            update(AppealCounter)
            .where(AppealCounter.prefix == prefix, AppealCounter.year == year)
            .values(last_value=AppealCounter.last_value + 1)
            .returning(AppealCounter.last_value)
        )
        return int(result.scalar_one())

    async def add(
        self,
        *,
        number: str,
        resident_id: int,
        account_id: int,
        channel: Channel,
        category_id: int,
        location: GeoPoint | None,
        address: str | None,
        description: str,
        media: Sequence[NewMedia],
        created_at: datetime,
        due_at: datetime,
        actor_id: str,
    ) -> int:
        appeal = Appeal(
            number=number,
            resident_id=resident_id,
            account_id=account_id,
            channel=channel.value,
            category_id=category_id,
            status=Status.NEW.value,
            latitude=location.latitude if location else None,
            longitude=location.longitude if location else None,
            address=address,
            description=description,
            created_at=created_at,
            due_at=due_at,
            updated_at=created_at,
            status_changed_at=created_at,
        )
        self._session.add(appeal)
        await self._session.flush()
        if media:
            await self.add_media(appeal.id, media, "report")
        await self.add_event(
            appeal.id,
            at=created_at,
            kind="status",
            actor_kind="resident",
            actor_id=actor_id,
            to_status=Status.NEW,
        )
        return appeal.id

    @staticmethod
    def _summary(appeal: Appeal, names: dict[str, str]) -> AppealSummary:
        return AppealSummary(
            id=appeal.id,
            number=appeal.number,
            status=Status(appeal.status),
            category_names=dict(names),
            created_at=appeal.created_at,
            due_at=appeal.due_at,
            address=appeal.address,
            latitude=appeal.latitude,
            longitude=appeal.longitude,
        )

    async def page_for_resident(
        self, resident_id: int, *, offset: int, limit: int
    ) -> tuple[list[AppealSummary], int]:
        total = (
            await self._session.execute(
                select(func.count(Appeal.id)).where(Appeal.resident_id == resident_id)
            )
        ).scalar_one()
        rows = (
            await self._session.execute(
                select(Appeal, Category.names)
                .join(Category, Category.id == Appeal.category_id)
                .where(Appeal.resident_id == resident_id)
                .order_by(Appeal.created_at.desc(), Appeal.id.desc())
                .offset(offset)
                .limit(limit)
            )
        ).all()
        return [self._summary(appeal, names) for appeal, names in rows], int(total)

    async def detail_for_resident(self, appeal_id: int, resident_id: int) -> AppealDetail | None:
        """The appeal if it is this resident's; another resident's appeal is simply not found."""
        parent = aliased(Category)
        row = (
            await self._session.execute(
                select(Appeal, Category.names, parent.names)
                .join(Category, Category.id == Appeal.category_id)
                .outerjoin(parent, parent.id == Category.parent_id)
                .where(Appeal.id == appeal_id, Appeal.resident_id == resident_id)
            )
        ).one_or_none()
        if row is None:
            return None
        appeal, names, parent_names = row
        media_count = (
            await self._session.execute(
                select(func.count(AppealMedia.id)).where(
                    AppealMedia.appeal_id == appeal.id, AppealMedia.role == "report"
                )
            )
        ).scalar_one()
        history = tuple(await self.history(appeal.id))
        return AppealDetail(
            summary=self._summary(appeal, names),
            parent_category_names=dict(parent_names) if parent_names else None,
            address=appeal.address,
            latitude=appeal.latitude,
            longitude=appeal.longitude,
            description=appeal.description,
            media_count=int(media_count),
            history=history,
        )

    @staticmethod
    def _state(appeal: Appeal) -> AppealState:
        return AppealState(
            id=appeal.id,
            number=appeal.number,
            status=Status(appeal.status),
            resident_id=appeal.resident_id,
            account_id=appeal.account_id,
            category_id=appeal.category_id,
            department=appeal.department,
            due_at=appeal.due_at,
            status_changed_at=appeal.status_changed_at,
            staff_chat_id=appeal.staff_chat_id,
            staff_thread_id=appeal.staff_thread_id,
            staff_message_id=appeal.staff_message_id,
            staff_card_caption=appeal.staff_card_caption,
        )

    async def get(self, appeal_id: int, *, lock: bool = False) -> AppealState | None:
        """The appeal; with lock=True its row stays locked until the unit of work ends, so two
        operators pressing buttons at once are applied one after the other."""
        query = select(Appeal).where(Appeal.id == appeal_id)
        if lock:
            query = query.with_for_update()
        appeal = (await self._session.execute(query)).scalar_one_or_none()
        return self._state(appeal) if appeal else None

    async def set_department(self, appeal_id: int, department: str, now: datetime) -> None:
        await self._session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(department=department, updated_at=now)
        )

    async def id_by_number(self, number: str) -> int | None:
        query = select(Appeal.id).where(Appeal.number == number)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def number_of(self, appeal_id: int) -> str | None:
        query = select(Appeal.number).where(Appeal.id == appeal_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def set_status(
        self,
        appeal_id: int,
        status: Status,
        now: datetime,
        *,
        department: str | None = None,
        duplicate_of_id: int | None = None,
    ) -> None:
        values: dict[str, object] = {
            "status": status.value,
            "status_changed_at": now,
            "updated_at": now,
        }
        if department is not None:
            values["department"] = department
        if duplicate_of_id is not None:
            values["duplicate_of_id"] = duplicate_of_id
        await self._session.execute(update(Appeal).where(Appeal.id == appeal_id).values(**values))

    async def add_event(
        self,
        appeal_id: int,
        *,
        at: datetime,
        kind: str,
        actor_kind: str,
        actor_id: str | None,
        actor_name: str | None = None,
        from_status: Status | None = None,
        to_status: Status | None = None,
        note: str | None = None,
    ) -> None:
        self._session.add(
            AppealEvent(
                appeal_id=appeal_id,
                at=at,
                kind=kind,
                actor_kind=actor_kind,
                actor_id=actor_id,
                actor_name=(actor_name or "")[:128] or None,
                from_status=from_status.value if from_status else None,
                to_status=to_status.value if to_status else None,
                note=note,
            )
        )
        await self._session.flush()

    async def add_media(self, appeal_id: int, items: Sequence[NewMedia], role: str) -> None:
        last = (
            await self._session.execute(
                select(func.max(AppealMedia.position)).where(AppealMedia.appeal_id == appeal_id)
            )
        ).scalar_one_or_none()
        start = -1 if last is None else int(last)
        self._session.add_all(
            AppealMedia(
                appeal_id=appeal_id,
                position=start + 1 + offset,
                kind=item.kind.value,
                role=role,
                channel=item.channel.value,
                file_ref=item.file_ref,
                unique_id=item.unique_id,
            )
            for offset, item in enumerate(items)
        )
        await self._session.flush()

    async def media(self, appeal_id: int, role: str | None = None) -> list[StoredMedia]:
        query = select(AppealMedia).where(AppealMedia.appeal_id == appeal_id)
        if role is not None:
            query = query.where(AppealMedia.role == role)
        rows = (await self._session.execute(query.order_by(AppealMedia.position))).scalars()
        return [
            StoredMedia(MediaKind(row.kind), Channel(row.channel), row.file_ref, row.role)
            for row in rows
        ]

    async def history(self, appeal_id: int) -> list[HistoryEntry]:
        events = (
            await self._session.execute(
                select(AppealEvent)
                .where(AppealEvent.appeal_id == appeal_id)
                .order_by(AppealEvent.at, AppealEvent.id)
            )
        ).scalars()
        return [
            HistoryEntry(
                at=event.at,
                kind=event.kind,
                actor_kind=event.actor_kind,
                actor_name=event.actor_name,
                from_status=Status(event.from_status) if event.from_status else None,
                to_status=Status(event.to_status) if event.to_status else None,
                note=event.note,
            )
            for event in events
        ]

    async def staff_view(self, appeal_id: int) -> StaffView | None:
        parent = aliased(Category)
        row = (
            await self._session.execute(
                select(Appeal, Category, parent)
                .join(Category, Category.id == Appeal.category_id)
                .outerjoin(parent, parent.id == Category.parent_id)
                .where(Appeal.id == appeal_id)
            )
        ).one_or_none()
        if row is None:
            return None
        appeal, category, parent_category = row
        history = await self.history(appeal_id)
        duplicate_of = (
            await self.number_of(appeal.duplicate_of_id) if appeal.duplicate_of_id else None
        )
        return StaffView(
            appeal=self._state(appeal),
            category_names=dict(category.names),
            parent_category_names=dict(parent_category.names) if parent_category else None,
            root_category_id=parent_category.id if parent_category else category.id,
            default_department=category.department,
            address=appeal.address,
            latitude=appeal.latitude,
            longitude=appeal.longitude,
            description=appeal.description,
            created_at=appeal.created_at,
            media=tuple(await self.media(appeal_id)),
            duplicate_of=duplicate_of,
            last_event=history[-1] if history else None,
            origin=CallOrigin(appeal.caller_name, appeal.taken_by_name, appeal.created_at)
            if appeal.channel == AppealChannel.PHONE
            else None,
        )

    async def set_card(
        self,
        appeal_id: int,
        chat_id: int,
        thread_id: int | None,
        message_id: int,
        *,
        caption: bool = False,
    ) -> None:
        await self._session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(
                staff_chat_id=chat_id,
                staff_thread_id=thread_id,
                staff_message_id=message_id,
                staff_card_caption=caption,
            )
        )

    async def overdue(
        self, now: datetime, reminded_before: datetime, limit: int = 100
    ) -> list[int]:
        """Open, not done, past due, and not reminded within the period."""
        open_statuses = [
            s.value for s in (Status.NEW, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED)
        ]
        query = (
            select(Appeal.id)
            .where(Appeal.status.in_(open_statuses), Appeal.due_at < now)
            .where((Appeal.reminded_at.is_(None)) | (Appeal.reminded_at <= reminded_before))
            .order_by(Appeal.due_at)
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())

    async def mark_reminded(self, appeal_ids: Sequence[int], now: datetime) -> None:
        await self._session.execute(
            update(Appeal).where(Appeal.id.in_(appeal_ids)).values(reminded_at=now)
        )

    async def done_before(self, moment: datetime, limit: int = 100) -> list[int]:
        query = (
            select(Appeal.id)
            .where(Appeal.status == Status.DONE.value, Appeal.status_changed_at <= moment)
            .order_by(Appeal.status_changed_at)
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())


class StaffRepository:
    """Which staff-chat messages belong to which appeal, and the forum topics per category."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, chat_id: int, message_id: int, appeal_id: int, kind: str) -> None:
        await self._session.merge(
            StaffMessage(chat_id=chat_id, message_id=message_id, appeal_id=appeal_id, kind=kind)
        )
        await self._session.flush()

    async def appeal_of(self, chat_id: int, message_id: int) -> int | None:
        row = await self._session.get(StaffMessage, (chat_id, message_id))
        return row.appeal_id if row else None

    async def topic(self, chat_id: int, category_id: int) -> int | None:
        row = await self._session.get(StaffTopic, (chat_id, category_id))
        return row.thread_id if row else None

    async def set_topic(self, chat_id: int, category_id: int, thread_id: int) -> None:
        await self._session.merge(
            StaffTopic(chat_id=chat_id, category_id=category_id, thread_id=thread_id)
        )
        await self._session.flush()


# New rows are due at once whatever the business clock says (tests move that clock); retries
# are scheduled by the sender in real time.
DUE_NOW = datetime(1970, 1, 1, tzinfo=UTC)


def _outbox_item(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        channel=Channel(row.channel),
        chat=row.chat,
        kind=row.kind,
        appeal_id=row.appeal_id,
        payload=dict(row.payload),
        attempts=row.attempts,
        progress=row.progress,
        next_attempt_at=row.next_attempt_at,
    )


class OutboxRepository:
    """Notifications waiting to be delivered; written with their cause, read by the sender."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.added = 0

    async def add(
        self,
        *,
        channel: Channel,
        chat: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        appeal_id: int | None = None,
    ) -> int:
        message = OutboxMessage(
            created_at=now,
            channel=channel.value,
            chat=chat,
            kind=kind,
            appeal_id=appeal_id,
            payload=payload,
            status=self.PENDING,
            attempts=0,
            progress=0,
            next_attempt_at=DUE_NOW,
        )
        self._session.add(message)
        self.added += 1
        await self._session.flush()
        return message.id

    async def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest undelivered rows, due or not: order per chat must hold across retries."""
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == self.PENDING)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [_outbox_item(row) for row in (await self._session.execute(query)).scalars()]

    async def count_pending(self) -> int:
        query = select(func.count(OutboxMessage.id)).where(OutboxMessage.status == self.PENDING)
        return int((await self._session.execute(query)).scalar_one())

    async def _set(self, item_id: int, **values: object) -> None:
        await self._session.execute(
            update(OutboxMessage).where(OutboxMessage.id == item_id).values(**values)
        )

    async def mark_sent(self, item_id: int, now: datetime) -> None:
        await self._set(item_id, status=self.SENT, sent_at=now, last_error=None)

    async def mark_failed(self, item_id: int, error: str) -> None:
        await self._set(item_id, status=self.FAILED, last_error=error[:2000])

    async def mark_superseded(self, item_id: int) -> None:
        await self._set(item_id, status=self.SUPERSEDED)

    async def retry_later(self, item_id: int, at: datetime, attempts: int, error: str) -> None:
        await self._set(item_id, next_attempt_at=at, attempts=attempts, last_error=error[:2000])

    async def set_progress(self, item_id: int, progress: int) -> None:
        await self._set(item_id, progress=progress)


class ProcessedUpdateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def seen(self, channel: Channel, update_id: int) -> bool:
        # Every update asks this: a plain SELECT is cheaper than Session.get's per-call clone.
        query = select(ProcessedUpdate.update_id).where(
            ProcessedUpdate.channel == channel.value, ProcessedUpdate.update_id == update_id
        )
        return (await self._session.execute(query)).first() is not None

    async def claim(self, channel: Channel, update_id: int, now: datetime) -> bool:
        """Record the event as handled; False when it already was."""
        result = await self._session.execute(
            _insert(self._session)(ProcessedUpdate)
            .values(channel=channel.value, update_id=update_id, processed_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "update_id"])
            .returning(ProcessedUpdate.update_id)
        )
        return result.first() is not None

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
