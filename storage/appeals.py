"""Appeals: numbering, filing, status and department, the staff card's place, the timers'
queries. The appeal's history, media and read models live in their own modules; this
repository joins them so that `uow.appeals` keeps serving everything the domain asks of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement

from domain.dialog.events import Channel, GeoPoint
from domain.entities import AppealState, NewMedia
from domain.kinds import EventKind, OutboxKind
from domain.statuses import WORKABLE_STATUSES, Status
from storage._hot import (
    HotStatement,
    Program,
    after_commit,
    hold_until_commit,
    insert_of,
    on_rollback,
    param,
)
from storage._rows import appeal_state
from storage._sql import insert_for
from storage.events import ADD_EVENT
from storage.media import REPORT_ROLE
from storage.models import (
    Appeal,
    AppealCounter,
    AppealEvent,
    AppealMedia,
    ExecutorAssignment,
    OutboxMessage,
)
from storage.outbox import ADD_ROW, DUE_NOW, PENDING
from storage.resident_views import ResidentAppealViews
from storage.staff_views import StaffAppealViews


def appeal_values(
    *,
    number: str,
    resident_id: int | None,
    account_id: int | None,
    channel: str,
    category_id: int,
    status: Status,
    location: GeoPoint | None,
    address: str | None,
    description: str,
    created_at: datetime,
    due_at: datetime,
) -> dict[str, Any]:
    """A new appeal's columns, whichever way it was filed (a messenger or a phone call)."""
    return {
        "number": number,
        "resident_id": resident_id,
        "account_id": account_id,
        "channel": channel,
        "category_id": category_id,
        "status": status.value,
        "latitude": location.latitude if location else None,
        "longitude": location.longitude if location else None,
        "address": address,
        "description": description,
        "created_at": created_at,
        "due_at": due_at,
        "updated_at": created_at,
        "status_changed_at": created_at,
    }


def _add_appeal(_dialect: str) -> ClauseElement:
    columns = "number resident_id account_id channel category_id status latitude longitude"
    columns += " address description created_at due_at updated_at status_changed_at"
    add: ClauseElement = insert_of(Appeal, columns, staff_card_caption=False).returning(
        Appeal.__table__.c.id
    )
    return add


_ADD_APPEAL = HotStatement(_add_appeal)


def _add_media(_dialect: str) -> ClauseElement:
    columns = "appeal_id position kind role channel file_ref unique_id"
    add: ClauseElement = insert_of(AppealMedia, columns)
    return add


_ADD_MEDIA = HotStatement(_add_media)


def _read_counter(_dialect: str) -> ClauseElement:
    table = cast(Table, AppealCounter.__table__)
    read: ClauseElement = select(table.c.last_value).where(
        table.c.prefix == param(table.c.prefix), table.c.year == param(table.c.year)
    )
    return read


_READ_COUNTER = HotStatement(_read_counter)


def _keep_counter(dialect: str) -> ClauseElement:
    table = cast(Table, AppealCounter.__table__)
    add = insert_for(dialect)(table).values(
        prefix=param(table.c.prefix), year=param(table.c.year), last_value=param(table.c.last_value)
    )
    # Numbers are taken in process and may commit out of order: the row keeps the highest.
    highest = func.greatest if dialect == "postgresql" else func.max
    keep: ClauseElement = add.on_conflict_do_update(
        index_elements=["prefix", "year"],
        set_={"last_value": highest(table.c.last_value, add.excluded.last_value)},
    )
    return keep


_KEEP_COUNTER = HotStatement(_keep_counter)


def _next_counter(dialect: str) -> ClauseElement:
    table = cast(Table, AppealCounter.__table__)
    add = insert_for(dialect)(table).values(
        prefix=param(table.c.prefix), year=param(table.c.year), last_value=1
    )
    take: ClauseElement = add.on_conflict_do_update(
        index_elements=["prefix", "year"], set_={"last_value": table.c.last_value + 1}
    ).returning(table.c.last_value)
    return take


_NEXT_COUNTER = HotStatement(_next_counter)


class Numbers:
    """Appeal numbers given out in process, where one process owns the database (SQLite).

    Taking a number from the counter's row (an upsert) began the unit of work's transaction
    at the filing, and the database's one connection was held from there to the commit,
    through the rest of the dialog step. Here the row is read once per prefix and year, each
    number is taken in process, and the row is written with the appeal, in the update's one
    trip at its commit (storage._hot). A filing that rolls back gives its number back unless
    a later one was taken meanwhile: then that number is skipped, never given twice."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], int] = {}

    def known(self, prefix: str, year: int) -> bool:
        return (prefix, year) in self._last

    def learn(self, prefix: str, year: int, stored: int) -> None:
        """The row's value, read before any number of the year was taken here; one read
        while another filer's was in flight changes nothing."""
        self._last.setdefault((prefix, year), stored)

    def take(self, prefix: str, year: int) -> int:
        number = self._last[prefix, year] + 1
        self._last[prefix, year] = number
        return number

    def give_back(self, prefix: str, year: int, number: int) -> None:
        if self._last.get((prefix, year)) == number:
            self._last[prefix, year] = number - 1


def _file(
    values: Mapping[str, Any],
    media: Sequence[NewMedia],
    event: Mapping[str, Any],
    card: Mapping[str, Any] | None,
) -> Program:
    """`AppealRepository.add`'s statements: the appeal, its media in order, its first event
    and its staff card's row."""
    rows = yield _ADD_APPEAL, values
    appeal_id = int(rows[0][0])
    for position, item in enumerate(media):
        yield (
            _ADD_MEDIA,
            {
                "appeal_id": appeal_id,
                "position": position,
                "kind": item.kind.value,
                "role": REPORT_ROLE,
                "channel": item.channel.value,
                "file_ref": item.file_ref,
                "unique_id": item.unique_id,
            },
        )
    yield ADD_EVENT, {**event, "appeal_id": appeal_id}
    if card is not None:
        yield ADD_ROW, {**card, "appeal_id": appeal_id}


def _file_at_once(_dialect: str, *, card: bool) -> ClauseElement:
    """PostgreSQL: `_file` as one statement (its data-modifying CTEs), where it took a round
    trip for each row: the appeal, its media (arrays, in their order), its staff card's row
    (with `card`) and its first event. The event's parameters are named `event_*`, the
    card's `card_*`, the media's `media_*`. Answers the appeal's id."""
    media = cast(Table, AppealMedia.__table__)
    events = cast(Table, AppealEvent.__table__)
    outbox = cast(Table, OutboxMessage.__table__)
    filed = cast(Any, _add_appeal(_dialect)).cte("filed")
    items = (
        func.unnest(
            *(bindparam(f"media_{name}", type_=ARRAY(media.c[name].type)) for name in _MEDIA)
        )
        .table_valued(*_MEDIA, with_ordinality="ordinal")
        .render_derived()
    )
    shown = (
        insert(media)
        .from_select(
            ["appeal_id", "position", "role", *_MEDIA],
            select(
                filed.c.id,
                items.c.ordinal - 1,
                literal(REPORT_ROLE, type_=media.c.role.type),
                *(items.c[name] for name in _MEDIA),
            ).join_from(filed, items, true()),
        )
        .cte("shown")
    )
    written = [shown]
    if card:
        names = ["channel", "chat", "kind", "payload", "created_at", "next_attempt_at"]
        queued = (
            insert(outbox)
            .from_select(
                ["appeal_id", "status", "attempts", "progress", *names],
                select(
                    filed.c.id,
                    literal(PENDING),
                    literal(0),
                    literal(0),
                    *(bindparam(f"card_{name}", type_=outbox.c[name].type) for name in names),
                ),
            )
            .cte("queued")
        )
        written.append(queued)
    names = [
        "at",
        "kind",
        "actor_kind",
        "actor_id",
        "actor_name",
        "from_status",
        "to_status",
        "note",
    ]
    first = select(
        filed.c.id, *(bindparam(f"event_{name}", type_=events.c[name].type) for name in names)
    )
    statement: ClauseElement = (
        insert(events)
        .from_select(["appeal_id", *names], first)
        .returning(events.c.appeal_id)
        .add_cte(*written)
    )
    return statement


# The media's columns given as arrays, one item each, to `_file_at_once`.
_MEDIA = ("kind", "channel", "file_ref", "unique_id")
_FILE_WITH_CARD = HotStatement(partial(_file_at_once, card=True))
_FILE_ALONE = HotStatement(partial(_file_at_once, card=False))


def _file_pg(
    values: Mapping[str, Any],
    media: Sequence[NewMedia],
    event: Mapping[str, Any],
    card: Mapping[str, Any] | None,
) -> Program:
    """`_file` on PostgreSQL: one statement."""
    parameters = {
        **values,
        **{f"event_{name}": value for name, value in event.items()},
        "media_kind": [item.kind.value for item in media],
        "media_channel": [item.channel.value for item in media],
        "media_file_ref": [item.file_ref for item in media],
        "media_unique_id": [item.unique_id for item in media],
    }
    if card is not None:
        parameters |= {f"card_{name}": value for name, value in card.items()}
    yield (_FILE_ALONE if card is None else _FILE_WITH_CARD), parameters


class AppealRepository(ResidentAppealViews, StaffAppealViews):
    def __init__(
        self,
        session: AsyncSession,
        numbers: Numbers | None = None,
        on_card: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(session)
        self._numbers = numbers
        # Called after a commit that queued a staff card: the outbox sender is woken.
        self._on_card = on_card

    async def next_sequence(self, prefix: str, year: int) -> int:
        """The next number of the year. Where one process owns the database it is taken in
        process (`Numbers`). Otherwise from the counter's row in one statement (the year's
        first appeal inserts 1, later ones add one), whose row lock serialises concurrent
        filers until they commit."""
        if self._numbers is not None:
            return await self._take(self._numbers, prefix, year)
        rows = await _NEXT_COUNTER.rows(self._session, {"prefix": prefix, "year": year})
        return int(rows[0][0])

    async def _take(self, numbers: Numbers, prefix: str, year: int) -> int:
        if not numbers.known(prefix, year):
            rows = await _READ_COUNTER.rows(self._session, {"prefix": prefix, "year": year})
            numbers.learn(prefix, year, int(rows[0][0]) if rows else 0)
        number = numbers.take(prefix, year)
        key = f"number:{prefix}:{year}:{number}"
        counter = {"prefix": prefix, "year": year, "last_value": number}

        def keep() -> Program:
            yield _KEEP_COUNTER, counter

        hold_until_commit(self._session, key, keep)
        on_rollback(self._session, key, lambda: numbers.give_back(prefix, year, number))
        return number

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
        """File the appeal in `status` at the commit: its row, the resident's media, its
        first event (to `status`, by the actor) and, with `card_chat`, its staff card's row
        in the outbox. Held until the commit (storage._hot): on SQLite the filing joins the
        update's one trip and holds the database for no step of the dialog."""
        values = appeal_values(
            number=number,
            resident_id=resident_id,
            account_id=account_id,
            channel=channel.value,
            category_id=category_id,
            status=status,
            location=location,
            address=address,
            description=description,
            created_at=created_at,
            due_at=due_at,
        )
        event = {
            "at": created_at,
            "kind": EventKind.STATUS.value,
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "actor_name": None,
            "from_status": None,
            "to_status": status.value,
            "note": None,
        }
        card = None
        if card_chat is not None:
            card = {
                "channel": Channel.TELEGRAM.value,
                "chat": card_chat,
                "kind": OutboxKind.CARD.value,
                "payload": {},
                "created_at": created_at,
                "next_attempt_at": DUE_NOW,
            }
        items = tuple(media)
        program = _file_pg if self._session.get_bind().dialect.name == "postgresql" else _file
        hold_until_commit(
            self._session, f"appeal:{number}", lambda: program(values, items, event, card)
        )
        if card is not None and self._on_card is not None:
            after_commit(self._session, f"appeal:{number}", self._on_card)

    async def get(self, appeal_id: int, *, lock: bool = False) -> AppealState | None:
        """The appeal; with lock=True its row stays locked until the unit of work ends, so two
        operators pressing buttons at once are applied one after the other."""
        query = select(Appeal).where(Appeal.id == appeal_id)
        if lock:
            query = query.with_for_update()
        appeal = (await self._session.execute(query)).scalar_one_or_none()
        return appeal_state(appeal) if appeal else None

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
        open_statuses = [s.value for s in WORKABLE_STATUSES]
        query = (
            select(Appeal.id)
            .where(Appeal.status.in_(open_statuses), Appeal.due_at < now)
            .where((Appeal.reminded_at.is_(None)) | (Appeal.reminded_at <= reminded_before))
            # Held by a department's executors: reminded in their chat (storage.departments).
            .where(~exists().where(ExecutorAssignment.appeal_id == Appeal.id))
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
