"""What the outbox sender reads and settles beyond single rows: the next row of every chat,
and the rows that depend on a staff card.

Fairness: the sender takes each chat's oldest pending row (its head) and goes round the chats,
so a thousand rows queued for the staff chat cost a resident's notification one turn, not a
thousand. Order within a chat holds (a head that must wait holds its chat), with one exception
in the staff chat: rows about appeals whose card is already there (card edits, relays, notices)
go ahead of new cards, so that operators see their own presses at once while cards queue.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Table,
    all_,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement, Executable

from domain.dialog.events import Channel
from domain.entities import OutboxItem
from domain.kinds import OutboxKind
from storage._hot import (
    Alone,
    HotStatement,
    Lender,
    Program,
    after_commit,
    hold_until_commit,
    insert_of,
    param,
    run_alone,
)
from storage._rows import OUTBOX_ITEM_COLUMNS, outbox_item, outbox_item_of
from storage._sql import insert_for
from storage.models import Appeal, OutboxMessage, ProcessedUpdate, StaffTopic
from storage.outbox import ADD_ROW, DUE_NOW, PENDING, OutboxRepository, pending_row
from storage.processed_updates import ClaimTaken, take_claim

# Outbox kinds as domain.lifecycle writes them (storage does not import the domain's flows).
KIND_CARD = OutboxKind.CARD
KIND_CARD_EDIT = OutboxKind.CARD_EDIT


def _pending_of_chat(_dialect: str) -> ClauseElement:
    table = cast(Table, OutboxMessage.__table__)
    pending: ClauseElement = (
        select(table.c.id)
        .where(
            table.c.status == literal(PENDING),
            table.c.channel == param(table.c.channel),
            table.c.chat == param(table.c.chat),
        )
        .limit(bindparam("limit", type_=Integer()))
    )
    return pending


# Every update with replies asks this of its chat (bot.durable).
_PENDING_OF_CHAT = HotStatement(_pending_of_chat)


def _add_in_order(dialect: str, *, claimed: bool = False) -> ClauseElement:
    """PostgreSQL: the reply's row, due now (behind the chat's older pending rows, other than
    those in `busy`) or leased until `until`, decided in the INSERT itself: one round trip
    where the check and the row took two. With `claimed`, the update's claim too (its
    `claim_*` parameters): no row when the update was handled already. Answers the row's id
    and its due time."""
    table = cast(Table, OutboxMessage.__table__)
    older = table.alias("older")
    behind = exists().where(
        older.c.status == literal(PENDING),
        older.c.channel == bindparam("of_channel", type_=table.c.channel.type),
        older.c.chat == bindparam("of_chat", type_=table.c.chat.type),
        older.c.id != all_(bindparam("busy", type_=ARRAY(Integer()))),
    )
    due = case(
        (behind, bindparam("due_now", type_=table.c.next_attempt_at.type)),
        else_=bindparam("until", type_=table.c.next_attempt_at.type),
    )
    if not claimed:
        columns = "created_at channel chat kind payload appeal_id"
        add: ClauseElement = insert_of(
            OutboxMessage, columns, status=PENDING, attempts=0, progress=0, next_attempt_at=due
        ).returning(table.c.id, table.c.next_attempt_at)
        return add
    claims = cast(Table, ProcessedUpdate.__table__)
    claim = (
        insert_for(dialect)(claims)
        .values(
            channel=bindparam("claim_channel", type_=claims.c.channel.type),
            update_id=bindparam("claim_update_id", type_=claims.c.update_id.type),
            processed_at=bindparam("claim_processed_at", type_=claims.c.processed_at.type),
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(claims.c.update_id)
        .cte("claim")
    )
    names = ("created_at", "channel", "chat", "kind", "payload")
    row = select(
        *(bindparam(name, type_=table.c[name].type) for name in names),
        literal(PENDING),
        literal(0),
        literal(0),
        due,
    ).select_from(claim)
    fused: ClauseElement = (
        insert(table)
        .from_select([*names, "status", "attempts", "progress", "next_attempt_at"], row)
        .returning(table.c.id, table.c.next_attempt_at)
        .add_cte(claim)
    )
    return fused


_ADD_IN_ORDER = HotStatement(_add_in_order)
_CLAIM_AND_ADD = HotStatement(partial(_add_in_order, claimed=True))


@dataclass(slots=True)
class Queued:
    """Where an update's replies went: known once its unit of work has committed."""

    row_id: int = 0
    # The writing worker sends them itself (the row is leased to it); otherwise they wait
    # for the chat's older rows and the sender delivers them.
    leased: bool = False


def _heads(_dialect: str) -> ClauseElement:
    """`OutboxQueue.heads`: the staff chat is a parameter (none: no row is the staff chat's;
    its comparisons are then NULL, and the CASE takes its ELSE)."""
    row = cast(Table, OutboxMessage.__table__)
    card = row.alias("card")
    appeal = cast(Table, Appeal.__table__)
    staff_chat = bindparam("staff_chat", type_=row.c.chat.type)
    is_staff = row.c.chat == staff_chat
    about_card = and_(is_staff, row.c.kind != KIND_CARD, row.c.appeal_id.is_not(None))
    posted = exists().where(appeal.c.id == row.c.appeal_id, appeal.c.staff_message_id.is_not(None))
    # The status as an expression (`|| ''`), so that SQLite finds the card by its appeal
    # (ix_outbox_appeal_id: a row or two) and never by the status index, a scan of every
    # pending row for each staff row: 1.25 s with 6,000 of them among 30,000 pending.
    card_queued = exists().where(
        card.c.appeal_id == row.c.appeal_id,
        card.c.chat == row.c.chat,
        card.c.kind == KIND_CARD,
        card.c.status.concat("") == PENDING,
    )
    # A CASE, so that the EXISTS run only for the staff chat's rows about a card: SQLite
    # evaluated them for every pending row (each a scan of the pending rows), and the query
    # took 1.4 s with 3,000 pending rows, 123 s with 30,000, holding the database throughout.
    waiting = case((about_card, and_(~posted, card_queued)), else_=false())
    lane = case((and_(is_staff, row.c.kind != KIND_CARD), 0), else_=1)
    ranked = (
        select(
            row.c.id,
            func.row_number()
            .over(partition_by=(row.c.channel, row.c.chat), order_by=(lane, row.c.id))
            .label("rank"),
        )
        .where(row.c.status == PENDING, ~waiting)
        .subquery()
    )
    heads: ClauseElement = (
        select(*(row.c[name] for name in OUTBOX_ITEM_COLUMNS))
        .join(ranked, ranked.c.id == row.c.id)
        .where(ranked.c.rank == 1)
        .order_by(row.c.id)
    )
    return heads


# Every pass of the sender asks this: compiled once (storage._hot).
_HEADS = HotStatement(_heads)


class OutboxQueue:
    def __init__(self, session: AsyncSession, outbox: OutboxRepository | None = None) -> None:
        self._session = session
        self._outbox = outbox

    def hold_replies(
        self,
        *,
        channel: Channel,
        chat: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        until: datetime,
        in_order: bool,
        in_flight: Callable[[], Collection[int]],
    ) -> Queued:
        """Queue an update's replies when the unit of work commits, leased to this worker
        until `until` unless (`in_order`) the chat has older pending rows other than those
        `in_flight` (the rows this worker is sending): then they wait for those, and the
        sender delivers them. Every update with replies writes one such row."""
        queued = Queued()
        values = {"channel": channel.value, "chat": chat, "kind": kind, "payload": payload}

        if self._session.get_bind().dialect.name == "postgresql" and in_order:
            # One statement with the update's claim, if one is held: with nothing else to
            # write, the whole commit is then one round trip (storage._hot `commit`).
            claim = take_claim(self._session)

            def one() -> Program:
                busy = frozenset(in_flight())  # read here, right before the commit
                return _add_in_order_of(values, now, until, busy, claim, queued)

            def undo() -> Program:
                return _take_back(queued, claim)

            key = f"replies:{id(queued)}"
            hold_until_commit(self._session, key, one, alone=Alone(undo))
            after_commit(self._session, key, self._woken(queued))
            return queued

        def write() -> Program:
            # Read here, on the event loop's thread, right before the commit.
            busy = frozenset(in_flight())
            return _queue_replies(values, now, until, busy if in_order else None, queued)

        hold_until_commit(self._session, f"replies:{id(queued)}", write)
        after_commit(self._session, f"replies:{id(queued)}", self._woken(queued))
        return queued

    def _woken(self, queued: Queued) -> Callable[[], None]:
        def woken() -> None:
            if not queued.leased and self._outbox is not None:
                self._outbox.added += 1  # the unit of work wakes the sender

        return woken

    async def heads(self, staff_chat: str | None) -> list[OutboxItem]:
        """Each chat's next row, oldest chat first; due or not (a head that is not due holds
        its chat). A staff-chat row that waits for its appeal's card (still queued) is never a
        head: the card comes first."""
        rows = await _HEADS.rows(self._session, {"staff_chat": staff_chat})
        return [outbox_item_of(row) for row in rows]

    async def hand_over(self, row_id: int, sent: int) -> None:
        """A leased row whose first `sent` messages went out: due now, resuming after them."""
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING)
            .values(progress=sent, next_attempt_at=DUE_NOW)
        )

    async def mark_sent(self, ids: Collection[int], now: datetime) -> None:
        await self._session.execute(_mark_sent(ids, now))

    async def prune_sent(self, before: datetime) -> int:
        """Delivered rows are kept a while for inquiries, then removed."""
        row = OutboxMessage
        result = await self._session.execute(
            delete(row).where(
                row.status.in_((OutboxRepository.SENT, OutboxRepository.SUPERSEDED)),
                row.created_at < before,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def collapse_edits(self, item: OutboxItem) -> OutboxItem:
        """A card edit renders the card's state when it is sent: of several queued edits of
        one card only the newest is sent, the others are marked superseded."""
        row = OutboxMessage
        same = (
            row.status == PENDING,
            row.kind == KIND_CARD_EDIT,
            row.chat == item.chat,
            row.appeal_id == item.appeal_id,
        )
        newest = (await self._session.execute(select(func.max(row.id)).where(*same))).scalar()
        if newest is None or newest == item.id:
            return item
        await self._session.execute(
            update(row).where(*same, row.id < newest).values(status=OutboxRepository.SUPERSEDED)
        )
        latest = await self._session.get(row, newest)
        assert latest is not None
        return outbox_item(latest)

    async def card_queued(self, appeal_id: int, chat: str) -> bool:
        row = OutboxMessage
        query = select(row.id).where(
            row.appeal_id == appeal_id,
            row.chat == chat,
            row.kind == KIND_CARD,
            row.status == PENDING,
        )
        return (await self._session.execute(query.limit(1))).first() is not None

    async def fail_dependents(self, appeal_id: int, chat: str, error: str) -> int:
        """The card will never be posted: the rows that wait for it fail with it."""
        row = OutboxMessage
        result = await self._session.execute(
            update(row)
            .where(
                row.status == PENDING,
                row.appeal_id == appeal_id,
                row.chat == chat,
                row.kind != KIND_CARD,
            )
            .values(status=OutboxRepository.FAILED, last_error=error[:2000])
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget_topic(self, chat_id: int, thread_id: int) -> None:
        """An admin deleted the forum topic: the next card of its category creates a new one."""
        await self._session.execute(
            delete(StaffTopic).where(
                StaffTopic.chat_id == chat_id, StaffTopic.thread_id == thread_id
            )
        )

    async def repost_card(self, appeal_id: int, chat: str, now: datetime) -> bool:
        """The appeal's card is gone (its topic or message was deleted): forget it and queue
        the card again, unless it is queued already. True when a card row was added."""
        await self._session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(staff_chat_id=None, staff_thread_id=None, staff_message_id=None)
        )
        if await self.card_queued(appeal_id, chat):
            return False
        self._session.add(
            pending_row(
                channel=Channel.TELEGRAM,
                chat=chat,
                kind=KIND_CARD,
                payload={},
                now=now,
                appeal_id=appeal_id,
            )
        )
        await self._session.flush()
        return True


def _queue_replies(
    values: Mapping[str, Any],
    now: datetime,
    until: datetime,
    busy: frozenset[int] | None,
    into: Queued,
) -> Program:
    """`OutboxQueue.hold_replies`'s statements. `busy` holds every row this worker is
    sending, hundreds under load: filtered here rather than sent as as many parameters of a
    NOT IN. A chat with more pending rows than that has one outside it."""
    waiting = False
    if busy is not None:
        chat = {"channel": values["channel"], "chat": values["chat"], "limit": len(busy) + 1}
        pending = yield _PENDING_OF_CHAT, chat
        waiting = any(row[0] not in busy for row in pending)
    due = DUE_NOW if waiting else until
    row = {**values, "created_at": now, "next_attempt_at": due, "appeal_id": None}
    rows = yield ADD_ROW, row
    into.row_id = int(rows[0][0])
    into.leased = not waiting


def _add_in_order_of(
    values: Mapping[str, Any],
    now: datetime,
    until: datetime,
    busy: frozenset[int],
    claim: Mapping[str, Any] | None,
    into: Queued,
) -> Program:
    """`_queue_replies` in one statement (`_add_in_order`), with the update's claim if it is
    given; on PostgreSQL. `busy` goes as one array parameter."""
    row = {
        **values,
        "created_at": now,
        "appeal_id": None,
        "of_channel": values["channel"],
        "of_chat": values["chat"],
        "busy": sorted(busy),
        "due_now": DUE_NOW,
        "until": until,
    }
    if claim is None:
        rows = yield _ADD_IN_ORDER, row
    else:
        rows = yield _CLAIM_AND_ADD, row | {f"claim_{k}": v for k, v in claim.items()}
        if not rows:
            raise ClaimTaken(f"{claim['channel']} event {claim['update_id']}")
    into.row_id = int(rows[0][0])
    into.leased = rows[0][1] != DUE_NOW


def _take_back(queued: Queued, claim: Mapping[str, Any] | None) -> Program:
    """Undo `_add_in_order_of` once committed: the row (still leased to this worker, so not
    sent by anyone) and the claim."""
    yield _DELETE_ROW, {"row_id": queued.row_id}
    if claim is not None:
        yield _UNCLAIM, {"channel": claim["channel"], "update_id": claim["update_id"]}


def _delete_row(_dialect: str) -> ClauseElement:
    table = cast(Table, OutboxMessage.__table__)
    gone: ClauseElement = delete(table).where(
        table.c.id == bindparam("row_id", type_=table.c.id.type)
    )
    return gone


def _unclaim(_dialect: str) -> ClauseElement:
    table = cast(Table, ProcessedUpdate.__table__)
    gone: ClauseElement = delete(table).where(
        table.c.channel == param(table.c.channel), table.c.update_id == param(table.c.update_id)
    )
    return gone


_DELETE_ROW = HotStatement(_delete_row)
_UNCLAIM = HotStatement(_unclaim)


def _mark_sent(ids: Collection[int], now: datetime) -> Executable:
    table = cast(Table, OutboxMessage.__table__)
    return (
        update(table)
        .where(table.c.id.in_(list(ids)), table.c.status == PENDING)
        .values(status=OutboxRepository.SENT, sent_at=now)
    )


async def mark_sent_at_once(lender: Lender, ids: Collection[int], now: datetime) -> None:
    """`OutboxQueue.mark_sent` as one statement committed on its own (AUTOCOMMIT: one round
    trip to PostgreSQL instead of a unit of work's BEGIN, UPDATE and COMMIT). With several
    workers each reply row is marked as soon as it is sent, so this runs once per reply. Not
    for SQLite, whose transactions storage.database begins (AUTOCOMMIT would undo that);
    there one process marks its rows in batches (bot.durable). The ids go as one array
    parameter: one statement whatever their number, prepared once per connection (a list of
    parameters made one statement per length, and they pushed the hot path's statements out
    of each connection's cache of prepared ones)."""
    await run_alone(lender, _MARK_SENT_ANY, {"ids": sorted(ids), "sent_at": now})


def _mark_sent_any(_dialect: str) -> ClauseElement:
    table = cast(Table, OutboxMessage.__table__)
    marked: ClauseElement = (
        update(table)
        .where(
            table.c.id == any_(bindparam("ids", type_=ARRAY(Integer()))),
            table.c.status == literal(PENDING),
        )
        .values(status=literal(OutboxRepository.SENT), sent_at=param(table.c.sent_at))
    )
    return marked


_MARK_SENT_ANY = HotStatement(_mark_sent_any)
