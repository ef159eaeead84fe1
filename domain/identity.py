"""Linking accounts by proof, and unlinking them.

A number claimed on Viber proves nothing, so it never joins anyone. When it matches a verified
account, the claimant may ask for a one-time code, which goes into that verified chat; typing it
back proves the two accounts are one person. Codes expire, wrong attempts are limited, requests
are limited per hour, and every request, attempt, link and unlink is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.actions import KEEP, Act, Action
from domain.clock import Clock
from domain.dialog.replies import Button, Reply
from domain.entities import Account
from domain.i18n import Translator, gettext
from domain.kinds import EventKind
from domain.lifecycle import KIND_REPLIES
from domain.statuses import Actor

if TYPE_CHECKING:
    from domain.ports import UnitOfWork

_ = gettext

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Codes asked for by, or sent to, one account per hour: keeps the verified resident from being
# flooded with codes, and guessing to a handful of tries an hour.
MAX_CODES_PER_HOUR = 3


class LinkEvent(StrEnum):
    """Kinds of the identity record (`account_events`)."""

    PHONE_VERIFIED = "phone_verified"
    PHONE_CLAIMED = "phone_claimed"
    CODE_REQUESTED = "link_code_requested"
    CODE_SENT = "link_code_sent"
    CODE_RIGHT = "link_code_right"
    CODE_WRONG = "link_code_wrong"
    CODE_EXPIRED = "link_code_expired"
    CODE_EXHAUSTED = "link_code_exhausted"
    LINKED = "linked"
    UNLINKED = "unlinked"
    OPERATOR_LINKED = "operator_linked"


class CodeStatus(StrEnum):
    PENDING = "pending"
    USED = "used"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    CANCELLED = "cancelled"
    REPLACED = "replaced"


class RequestOutcome(StrEnum):
    SENT = "sent"
    NOTHING_TO_LINK = "nothing"
    ALREADY_LINKED = "already"
    TOO_MANY = "too_many"


class OperatorLinkOutcome(StrEnum):
    LINKED = "linked"
    NOT_FOUND = "not_found"
    SAME = "same"
    NO_RESIDENT = "no_resident"


class CodeOutcome(StrEnum):
    LINKED = "linked"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    NONE_PENDING = "none"


@dataclass(frozen=True, slots=True)
class CodeResult:
    outcome: CodeOutcome
    attempts_left: int = 0
    # The verified account the code came from (set when linked).
    target: Account | None = None


def channel_name(channel: str) -> str:
    return {"telegram": "Telegram", "viber": "Viber"}.get(channel, channel)


def _hash(code_id_seed: str, code: str) -> str:
    return hashlib.sha256(f"{code_id_seed}:{code}".encode()).hexdigest()


class IdentityService:
    def __init__(self, uow: UnitOfWork, translator: Translator, clock: Clock) -> None:
        self._uow = uow
        self._translator = translator
        self._clock = clock

    async def fresh(self, account: Account) -> Account:
        """The account as stored now (a step may have registered or linked it)."""
        return await self._uow.identity.account(account.id) or account

    async def link_candidate(self, account: Account) -> Account | None:
        """The verified account whose number this one claims, if they are not linked yet."""
        if account.phone is None or account.phone_verified:
            return None
        owner = await self._uow.identity.verified_owner(account.phone)
        if owner is None or owner.id == account.id or owner.resident_id == account.resident_id:
            return None
        return owner

    async def request_code(self, account: Account) -> tuple[RequestOutcome, Account | None]:
        """Send a one-time code into the verified chat whose number this account claims."""
        if account.phone is not None and account.phone_verified is False:
            owner = await self._uow.identity.verified_owner(account.phone)
            if owner is not None and owner.resident_id == account.resident_id:
                return RequestOutcome.ALREADY_LINKED, owner
        target = await self.link_candidate(account)
        if target is None:
            return RequestOutcome.NOTHING_TO_LINK, None
        now = self._clock()
        recent = await self._uow.identity.codes_since(
            [account.id, target.id], now - timedelta(hours=1)
        )
        if recent >= MAX_CODES_PER_HOUR:
            return RequestOutcome.TOO_MANY, target
        await self._uow.identity.close_pending(account.id, CodeStatus.REPLACED)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        seed = f"{account.id}:{target.id}"
        code_id = await self._uow.identity.add_code(
            account.id, target.id, _hash(seed, code), now, now + CODE_TTL
        )
        await self._record(LinkEvent.CODE_REQUESTED, account, other=target, code_id=code_id)
        await self._record(LinkEvent.CODE_SENT, target, other=account, code_id=code_id)
        with self._translator.use(target.locale):
            text = _(
                "🔐 Someone on {channel} asks to link to your account. Code {code} (valid for "
                "{minutes} minutes). Ignore this if it was not you: nothing changes without the "
                "code."
            ).format(
                channel=channel_name(account.channel),
                code=code,
                minutes=int(CODE_TTL.total_seconds() // 60),
            )
        await self._send(target, Reply(text))
        return RequestOutcome.SENT, target

    async def try_code(self, account: Account, typed: str) -> CodeResult:
        """Check a typed code; every attempt is recorded, right or wrong."""
        pending = await self._uow.identity.pending_code(account.id)
        if pending is None:
            return CodeResult(CodeOutcome.NONE_PENDING)
        now = self._clock()
        if now >= pending.expires_at:
            await self._uow.identity.update_code(
                pending.id, attempts=pending.attempts, status=CodeStatus.EXPIRED
            )
            await self._record(LinkEvent.CODE_EXPIRED, account, code_id=pending.id)
            return CodeResult(CodeOutcome.EXPIRED)
        digits = "".join(ch for ch in typed if ch.isdigit())[:16]
        seed = f"{pending.requester_id}:{pending.target_id}"
        attempts = pending.attempts + 1
        if not hmac.compare_digest(_hash(seed, digits), pending.code_hash):
            exhausted = attempts >= MAX_ATTEMPTS
            await self._uow.identity.update_code(
                pending.id,
                attempts=attempts,
                status=CodeStatus.EXHAUSTED if exhausted else CodeStatus.PENDING,
            )
            await self._record(LinkEvent.CODE_WRONG, account, code_id=pending.id)
            if exhausted:
                await self._record(LinkEvent.CODE_EXHAUSTED, account, code_id=pending.id)
                return CodeResult(CodeOutcome.EXHAUSTED)
            return CodeResult(CodeOutcome.WRONG, attempts_left=MAX_ATTEMPTS - attempts)
        target = await self._uow.identity.account(pending.target_id)
        await self._uow.identity.update_code(pending.id, attempts=attempts, status=CodeStatus.USED)
        await self._record(LinkEvent.CODE_RIGHT, account, code_id=pending.id)
        # The verified account may have been re-registered since; then the code proves nothing.
        if target is None or target.resident_id is None or not target.phone_verified:
            return CodeResult(CodeOutcome.EXPIRED)
        await self._uow.identity.join(account.id, target.resident_id)
        await self._record(LinkEvent.LINKED, account, other=target, code_id=pending.id)
        await self._record(LinkEvent.LINKED, target, other=account, code_id=pending.id)
        with self._translator.use(target.locale):
            text = _(
                "🔗 Your account is now linked with {channel}: appeals filed there and here are "
                "shown in both. Not you? Send /unlink."
            ).format(channel=channel_name(account.channel))
            menu = ((Button(_("🏠 Menu"), Action(Act.MENU, KEEP)),),)
        await self._send(target, Reply(text, menu))
        return CodeResult(CodeOutcome.LINKED, target=target)

    async def operator_link(
        self, first_number: str, second_number: str, operator_id: str, operator_name: str
    ) -> OperatorLinkOutcome:
        """An operator called the resident and confirmed that both appeals are theirs: their
        owners become one resident (a phone appeal waiting for its number joins the other's).
        Recorded on every account involved and in both appeals' history."""
        first_id = await self._uow.appeals.id_by_number(first_number)
        second_id = await self._uow.appeals.id_by_number(second_number)
        first = await self._uow.appeals.get(first_id) if first_id else None
        second = await self._uow.appeals.get(second_id) if second_id else None
        if first is None or second is None:
            return OperatorLinkOutcome.NOT_FOUND
        owners = [a.resident_id for a in (first, second) if a.resident_id is not None]
        if not owners:
            return OperatorLinkOutcome.NO_RESIDENT
        if len(owners) == 2 and owners[0] == owners[1]:
            return OperatorLinkOutcome.SAME
        into = owners[0]
        accounts = [a for owner in set(owners) for a in await self._uow.identity.accounts_of(owner)]
        if len(owners) == 2:
            await self._uow.identity.merge(owners[1], into)
        for appeal in (first, second):
            if appeal.resident_id is None:
                await self._uow.identity.give_appeal(appeal.id, into)
        now = self._clock()
        note = f"{first.number} + {second.number}"
        for account in accounts:
            await self._uow.identity.record(
                LinkEvent.OPERATOR_LINKED.value,
                account.id,
                at=now,
                actor_kind=Actor.OPERATOR.value,
                actor_id=operator_id,
                actor_name=operator_name,
                note=note,
            )
            with self._translator.use(account.locale):
                text = _(
                    "🔗 After your call, an operator of the contact centre linked appeals "
                    "{first} and {second} as yours: both are now in «My appeals». Not right? "
                    "Send /unlink."
                ).format(first=first.number, second=second.number)
                # Viber shows the latest message's keyboard only: keep a way back.
                menu = ((Button(_("🏠 Menu"), Action(Act.MENU, KEEP)),),)
            await self._send(account, Reply(text, menu))
        for appeal in (first, second):
            await self._uow.appeals.add_event(
                appeal.id,
                at=now,
                kind=EventKind.LINK,
                actor_kind=Actor.OPERATOR.value,
                actor_id=operator_id,
                actor_name=operator_name,
                note=note,
            )
        return OperatorLinkOutcome.LINKED

    async def cancel_code(self, account: Account) -> None:
        await self._uow.identity.close_pending(account.id, CodeStatus.CANCELLED)

    async def unlink(self, account: Account) -> list[Account]:
        """Separate the linked accounts again; each keeps the appeals filed from it, phone
        appeals stay with the verified account. Returns the accounts that were separated from
        this one (empty when it was linked to none)."""
        if account.resident_id is None:
            return []
        group = await self._uow.identity.accounts_of(account.resident_id)
        if len(group) < 2:
            return []
        verified = [a for a in group if a.phone_verified]
        keeper = (verified or group)[0]
        now = self._clock()
        others = [a for a in group if a.id != account.id]
        for member in group:
            if member.id != keeper.id:
                await self._uow.identity.separate(member.id, now)
        for other in others:
            await self._record(LinkEvent.UNLINKED, account, other=other)
            await self._record(LinkEvent.UNLINKED, other, other=account)
            with self._translator.use(other.locale):
                text = _(
                    "Your account is no longer linked with {channel}: each shows only its own "
                    "appeals."
                ).format(channel=channel_name(account.channel))
            await self._send(other, Reply(text, ((Button(_("🏠 Menu"), Action(Act.MENU, KEEP)),),)))
        return others

    async def _record(
        self,
        kind: LinkEvent,
        account: Account,
        *,
        other: Account | None = None,
        code_id: int | None = None,
    ) -> None:
        await self._uow.identity.record(
            kind.value,
            account.id,
            at=self._clock(),
            actor_kind=Actor.RESIDENT.value,
            actor_id=str(account.id),
            other_account_id=other.id if other else None,
            link_code_id=code_id,
        )

    async def _send(self, account: Account, reply: Reply) -> None:
        await self._uow.outbox.add(
            channel=account.channel,
            chat=account.external_id,
            kind=KIND_REPLIES,
            payload={"replies": [reply.to_data()]},
            now=self._clock(),
        )
