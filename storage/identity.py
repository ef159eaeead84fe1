"""Who is who: phones on accounts, residents shared by linked accounts, link codes, and the
record of every identity change. Accounts are never joined by phone alone: nothing here looks a
resident up by a claimed number."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement

from domain.entities import Account, AppealChannel
from storage import _rows
from storage._hot import HotStatement, Program, hold_until_commit, insert_of, param
from storage._sql import clip_name
from storage.accounts import AccountCache
from storage.models import AccountEvent, Appeal, ChannelAccount, LinkCode, Resident

_ACCOUNTS = cast(Table, ChannelAccount.__table__)
_APPEALS = cast(Table, Appeal.__table__)
# Not named after their columns: an UPDATE keeps those names for the values it sets.
_ACCOUNT_ID = bindparam("account_id", type_=Integer())
_PHONE = bindparam("phone", type_=_APPEALS.c.caller_phone.type)


def _resident_of(_dialect: str) -> ClauseElement:
    read: ClauseElement = select(_ACCOUNTS.c.resident_id).where(_ACCOUNTS.c.id == _ACCOUNT_ID)
    return read


def _add_resident(_dialect: str) -> ClauseElement:
    table = cast(Table, Resident.__table__)
    add: ClauseElement = (
        insert(table).values(created_at=param(table.c.created_at)).returning(table.c.id)
    )
    return add


def _set_phone(_dialect: str) -> ClauseElement:
    columns = _ACCOUNTS.c
    write: ClauseElement = (
        update(_ACCOUNTS)
        .where(columns.id == _ACCOUNT_ID)
        .values(
            resident_id=param(columns.resident_id),
            phone=param(columns.phone),
            phone_verified_at=param(columns.phone_verified_at),
        )
    )
    return write


def _record(_dialect: str) -> ClauseElement:
    columns = "at kind account_id other_account_id link_code_id actor_kind actor_id actor_name note"
    add: ClauseElement = insert_of(AccountEvent, columns)
    return add


def _waiting(phone: Any) -> Any:
    """Phone appeals that wait for `phone` to be verified by a resident."""
    return (
        (_APPEALS.c.channel == literal(AppealChannel.PHONE.value))
        & (_APPEALS.c.caller_phone == phone)
        & _APPEALS.c.resident_id.is_(None)
    )


def _waiting_calls(_dialect: str) -> ClauseElement:
    read: ClauseElement = select(_APPEALS.c.number).where(_waiting(_PHONE)).order_by(_APPEALS.c.id)
    return read


def _attach_calls(_dialect: str) -> ClauseElement:
    write: ClauseElement = (
        update(_APPEALS).where(_waiting(_PHONE)).values(resident_id=param(_APPEALS.c.resident_id))
    )
    return write


def _register_at_once(_dialect: str, *, verified: bool) -> ClauseElement:
    """PostgreSQL: `_register` as one statement (its data-modifying CTEs), where it took
    five round trips: the account's resident (one made for it if it has none), its number,
    the journal's record and, for a verified number, the phone appeals that waited for it.
    Answers the account's id, none when there is no such account."""
    residents = cast(Table, Resident.__table__)
    events = cast(Table, AccountEvent.__table__)
    at = bindparam("at", type_=events.c.at.type)
    own = (
        select(_ACCOUNTS.c.id, _ACCOUNTS.c.resident_id)
        .where(_ACCOUNTS.c.id == _ACCOUNT_ID)
        .cte("own")
    )
    lacking = select(own.c.id).where(own.c.resident_id.is_(None)).exists()
    made = (
        insert(residents)
        .from_select(["created_at"], select(at).where(lacking))
        .returning(residents.c.id)
        .cte("made")
    )
    whose = select(
        own.c.id.label("account_id"),
        func.coalesce(own.c.resident_id, select(made.c.id).scalar_subquery()).label("resident_id"),
    ).cte("whose")
    numbered = (
        update(_ACCOUNTS)
        .where(_ACCOUNTS.c.id == whose.c.account_id)
        .values(
            resident_id=whose.c.resident_id,
            phone=_PHONE,
            phone_verified_at=param(_ACCOUNTS.c.phone_verified_at),
        )
        .cte("numbered")
    )
    written = [numbered]
    if verified:
        attached = (
            update(_APPEALS)
            .where(_waiting(_PHONE))
            .values(resident_id=whose.c.resident_id)
            .cte("attached")
        )
        written.append(attached)
    names = [
        "kind",
        "other_account_id",
        "link_code_id",
        "actor_kind",
        "actor_id",
        "actor_name",
        "note",
    ]
    record = select(
        at, whose.c.account_id, *(bindparam(name, type_=events.c[name].type) for name in names)
    )
    statement: ClauseElement = (
        insert(events)
        .from_select(["at", "account_id", *names], record)
        .returning(events.c.account_id)
        .add_cte(*written)
    )
    return statement


_RESIDENT_OF = HotStatement(_resident_of)
_NEW_RESIDENT = HotStatement(_add_resident)
_SET_PHONE = HotStatement(_set_phone)
_RECORD = HotStatement(_record)
_WAITING_CALLS = HotStatement(_waiting_calls)
_ATTACH_CALLS = HotStatement(_attach_calls)
_REGISTER_VERIFIED = HotStatement(partial(_register_at_once, verified=True))
_REGISTER_CLAIMED = HotStatement(partial(_register_at_once, verified=False))


@dataclass(frozen=True, slots=True)
class StoredCode:
    id: int
    requester_id: int
    target_id: int
    code_hash: str
    expires_at: datetime
    attempts: int
    status: str


@dataclass(frozen=True, slots=True)
class AppealContact:
    """The number behind an appeal and how much it can be trusted."""

    phone: str
    channel: str
    verified: bool
    # A phone appeal: the number the caller gave the operator.
    by_phone: bool


def _code(row: LinkCode) -> StoredCode:
    return StoredCode(
        id=row.id,
        requester_id=row.requester_id,
        target_id=row.target_id,
        code_hash=row.code_hash,
        expires_at=row.expires_at,
        attempts=row.attempts,
        status=row.status,
    )


def _register(
    account_id: int,
    phone: str,
    verified_at: datetime | None,
    event: Mapping[str, Any],
    forget: Callable[[], None],
) -> Program:
    """`IdentityRepository.register_phone`'s statements."""
    rows = yield _RESIDENT_OF, {"account_id": account_id}
    if not rows:
        raise LookupError(account_id)
    resident_id = rows[0][0]
    if resident_id is None:
        made = yield _NEW_RESIDENT, {"created_at": event["at"]}
        resident_id = int(made[0][0])
    account = {"account_id": account_id, "resident_id": resident_id, "phone": phone}
    yield _SET_PHONE, {**account, "phone_verified_at": verified_at}
    # Where the write ran, in its transaction: the next read finds it.
    forget()
    yield _RECORD, event
    if verified_at is not None:
        yield _ATTACH_CALLS, {"phone": phone, "resident_id": resident_id}


def _register_pg(
    account_id: int,
    phone: str,
    verified_at: datetime | None,
    event: Mapping[str, Any],
    forget: Callable[[], None],
) -> Program:
    """`_register` on PostgreSQL: one statement."""
    statement = _REGISTER_CLAIMED if verified_at is None else _REGISTER_VERIFIED
    parameters = {**event, "phone": phone, "phone_verified_at": verified_at}
    rows = yield statement, parameters
    if not rows:
        raise LookupError(account_id)
    forget()


class IdentityRepository:
    def __init__(self, session: AsyncSession, cache: AccountCache | None = None) -> None:
        self._session = session
        self._cache = cache

    async def _new_resident(self, now: datetime) -> int:
        resident = Resident(created_at=now)
        self._session.add(resident)
        await self._session.flush()
        return resident.id

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
        """At the commit (a held write: storage._hot): keep the number on this account
        (verified or only claimed), give the account a resident of its own if it has none
        (never anyone else's), record it in the account's journal, and with a verified number
        make the phone appeals that waited for it (`waiting_calls`) the resident's."""
        event = {
            "at": now,
            "kind": "phone_verified" if verified else "phone_claimed",
            "account_id": account_id,
            "other_account_id": None,
            "link_code_id": None,
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "actor_name": None,
            "note": None,
        }
        verified_at = now if verified else None
        cache = self._cache
        info = self._session.info

        def forget() -> None:
            if cache is not None:
                cache.changed(info, account_id=account_id)

        one_statement = self._session.get_bind().dialect.name == "postgresql"

        def write() -> Program:
            program = _register_pg if one_statement else _register
            return program(account_id, phone, verified_at, event, forget)

        hold_until_commit(self._session, f"phone:{account_id}", write)

    async def waiting_calls(self, phone: str) -> list[str]:
        """Numbers of the phone appeals that wait for this number to be verified."""
        rows = await _WAITING_CALLS.rows(self._session, {"phone": phone})
        return [str(row[0]) for row in rows]

    async def account(self, account_id: int) -> Account | None:
        row = await self._session.get(ChannelAccount, account_id)
        return _rows.account(row) if row else None

    async def verified_owner(self, phone: str) -> Account | None:
        """The account that verified this number most recently: numbers change hands, and
        the latest proof is the current owner."""
        query = (
            select(ChannelAccount)
            .where(ChannelAccount.phone == phone, ChannelAccount.phone_verified_at.is_not(None))
            .order_by(ChannelAccount.phone_verified_at.desc(), ChannelAccount.id.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).scalar_one_or_none()
        return _rows.account(row) if row else None

    async def accounts_of(self, resident_id: int) -> list[Account]:
        query = (
            select(ChannelAccount)
            .where(ChannelAccount.resident_id == resident_id)
            .order_by(ChannelAccount.id)
        )
        return [_rows.account(row) for row in (await self._session.execute(query)).scalars()]

    async def join(self, account_id: int, resident_id: int) -> None:
        """Make the account (and the appeals of its resident) part of another resident."""
        row = await self._session.get(ChannelAccount, account_id)
        if row is None or row.resident_id == resident_id:
            return
        old = row.resident_id
        # Every account of the old resident comes along: they were already proven the same.
        if old is not None:
            await self._session.execute(
                update(ChannelAccount)
                .where(ChannelAccount.resident_id == old)
                .values(resident_id=resident_id)
            )
            await self._session.execute(
                update(Appeal).where(Appeal.resident_id == old).values(resident_id=resident_id)
            )
        else:
            row.resident_id = resident_id
        await self._session.flush()

    async def merge(self, from_resident: int, into_resident: int) -> None:
        """Every account and appeal of one resident becomes another's (an operator confirmed
        by phone that they are one person)."""
        if from_resident == into_resident:
            return
        await self._session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.resident_id == from_resident)
            .values(resident_id=into_resident)
        )
        await self._session.execute(
            update(Appeal)
            .where(Appeal.resident_id == from_resident)
            .values(resident_id=into_resident)
        )

    async def give_appeal(self, appeal_id: int, resident_id: int) -> None:
        await self._session.execute(
            update(Appeal).where(Appeal.id == appeal_id).values(resident_id=resident_id)
        )

    async def separate(self, account_id: int, now: datetime) -> int | None:
        """Give the account a resident of its own again, taking the appeals it filed; the
        rest (including phone appeals) stay. Returns the new resident id."""
        row = await self._session.get(ChannelAccount, account_id)
        if row is None or row.resident_id is None:
            return None
        old = row.resident_id
        fresh = await self._new_resident(now)
        row.resident_id = fresh
        await self._session.execute(
            update(Appeal)
            .where(Appeal.resident_id == old, Appeal.account_id == account_id)
            .values(resident_id=fresh)
        )
        await self._session.flush()
        return fresh

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
        self._session.add(
            AccountEvent(
                at=at,
                kind=kind,
                account_id=account_id,
                other_account_id=other_account_id,
                link_code_id=link_code_id,
                actor_kind=actor_kind,
                actor_id=actor_id,
                actor_name=clip_name(actor_name),
                note=note,
            )
        )
        await self._session.flush()

    async def events(self, account_id: int) -> list[tuple[str, int | None]]:
        """(kind, link code id) of the account's recorded identity events, oldest first."""
        query = (
            select(AccountEvent.kind, AccountEvent.link_code_id)
            .where(AccountEvent.account_id == account_id)
            .order_by(AccountEvent.id)
        )
        return [(kind, code) for kind, code in (await self._session.execute(query)).all()]

    async def appeal_contact(self, appeal_id: int) -> AppealContact | None:
        appeal = await self._session.get(Appeal, appeal_id)
        if appeal is None:
            return None
        if appeal.caller_phone is not None:
            return AppealContact(appeal.caller_phone, appeal.channel, False, True)
        if appeal.account_id is None:
            return None
        row = await self._session.get(ChannelAccount, appeal.account_id)
        if row is None or row.phone is None:
            return None
        return AppealContact(row.phone, row.channel, row.phone_verified_at is not None, False)

    # -- link codes ----------------------------------------------------------------------

    async def add_code(
        self, requester_id: int, target_id: int, code_hash: str, now: datetime, expires: datetime
    ) -> int:
        row = LinkCode(
            requester_id=requester_id,
            target_id=target_id,
            code_hash=code_hash,
            created_at=now,
            expires_at=expires,
            attempts=0,
            status="pending",
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def pending_code(self, requester_id: int) -> StoredCode | None:
        query = (
            select(LinkCode)
            .where(LinkCode.requester_id == requester_id, LinkCode.status == "pending")
            .order_by(LinkCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        row = (await self._session.execute(query)).scalar_one_or_none()
        return _code(row) if row else None

    async def codes_since(self, account_ids: Sequence[int], since: datetime) -> int:
        """Codes asked for by or sent to these accounts since then (a flood limit)."""
        query = select(func.count(LinkCode.id)).where(
            (LinkCode.requester_id.in_(account_ids)) | (LinkCode.target_id.in_(account_ids)),
            LinkCode.created_at >= since,
        )
        return int((await self._session.execute(query)).scalar_one())

    async def update_code(self, code_id: int, *, attempts: int, status: str) -> None:
        await self._session.execute(
            update(LinkCode).where(LinkCode.id == code_id).values(attempts=attempts, status=status)
        )

    async def close_pending(self, requester_id: int, status: str) -> None:
        await self._session.execute(
            update(LinkCode)
            .where(LinkCode.requester_id == requester_id, LinkCode.status == "pending")
            .values(status=status)
        )
