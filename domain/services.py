"""Services: what the dialog (and later the staff chat) asks of the system. They use
repositories through the unit of work of the event being handled and never commit themselves."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from domain.clock import Clock, due_date
from domain.dialog.events import Channel
from domain.draft import Draft
from domain.entities import (
    Account,
    AppealDetail,
    AppealState,
    AppealSummary,
    CategoryInfo,
    NewMedia,
)
from domain.numbering import format_number, parse_number
from domain.statuses import INITIAL_STATUS, Actor

if TYPE_CHECKING:
    from domain.lifecycle import Lifecycle
    from domain.ports import UnitOfWork


class IncompleteDraftError(ValueError):
    """A draft reached submission without a required part (a stale or tampered state)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    number: str
    due_at: datetime
    category: CategoryInfo


@dataclass(frozen=True, slots=True)
class Registered:
    account: Account
    # Numbers of phone appeals that waited for this verified number and are now the resident's.
    attached_calls: tuple[str, ...]


def normalize_phone(raw: str) -> str | None:
    """E.164-style `+<digits>`; None when it cannot be a phone number."""
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15:
        return None
    return "+" + digits


class ResidentService:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def identify(
        self,
        channel: Channel,
        user_id: str,
        display_name: str | None,
        locale: str | None = None,
    ) -> Account:
        """The chat's account; made at the first contact, with `locale` (the language the
        messenger reports) already kept."""
        return await self._uow.accounts.get_or_create(
            channel, user_id, display_name=display_name, now=self._clock(), locale=locale
        )

    async def register(self, account: Account, phone: str, *, verified: bool) -> Registered:
        """Keep the number on this account only. A verified number also brings the phone
        appeals that waited for it; a claimed one brings nothing (anyone can claim). Written
        at the commit: `Registered.account` carries the new number (a resident the account
        lacked is made only then, so its id is not known here)."""
        waiting = await self._uow.identity.waiting_calls(phone) if verified else []
        await self._uow.identity.register_phone(
            account.id,
            phone,
            verified=verified,
            now=self._clock(),
            actor_kind=Actor.RESIDENT.value,
            actor_id=str(account.id),
        )
        registered = replace(account, phone=phone, phone_verified=verified)
        return Registered(registered, tuple(waiting))

    async def set_locale(self, account: Account, locale: str) -> None:
        await self._uow.accounts.set_locale(account.id, locale)


class AppealService:
    def __init__(
        self, uow: UnitOfWork, clock: Clock, number_prefix: str, lifecycle: Lifecycle
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._prefix = number_prefix
        self._lifecycle = lifecycle

    async def state(self, appeal_id: int) -> AppealState | None:
        return await self._uow.appeals.get(appeal_id)

    async def root_categories(self) -> list[CategoryInfo]:
        return await self._uow.categories.roots()

    async def subcategories(self, parent: CategoryInfo) -> list[CategoryInfo]:
        return await self._uow.categories.children(parent.id)

    async def category(self, code: str | None) -> CategoryInfo | None:
        return await self._uow.categories.by_code(code) if code else None

    async def submit(self, account: Account, draft: Draft) -> Submitted:
        """Store the appeal, its media and its first status in the current unit of work."""
        if account.resident_id is None:
            raise IncompleteDraftError("an unregistered account cannot file appeals")
        category = await self.category(draft.category_code)
        if category is None or category.has_children:
            raise IncompleteDraftError("no valid category")
        if not draft.has_place or not draft.description:
            raise IncompleteDraftError("location and description are required")
        now = self._clock()
        sequence = await self._uow.appeals.next_sequence(self._prefix, now.year)
        number = format_number(self._prefix, now.year, sequence)
        due_at = due_date(now, category.sla_hours)
        await self._uow.appeals.add(
            number=number,
            resident_id=account.resident_id,
            account_id=account.id,
            channel=account.channel,
            category_id=category.id,
            status=INITIAL_STATUS,
            location=draft.location,
            address=draft.address,
            description=draft.description,
            media=[
                NewMedia(item.kind, account.channel, item.file_ref, item.unique_id)
                for item in draft.media
            ],
            created_at=now,
            due_at=due_at,
            actor_kind=Actor.RESIDENT.value,
            actor_id=str(account.id),
            card_chat=self._lifecycle.card_chat(),
        )
        return Submitted(number=number, due_at=due_at, category=category)

    async def page(
        self, account: Account, page: int, page_size: int
    ) -> tuple[list[AppealSummary], int]:
        if account.resident_id is None:
            return [], 0
        return await self._uow.appeals.page_for_resident(
            account.resident_id, offset=page * page_size, limit=page_size
        )

    async def detail(self, account: Account, appeal_id: int) -> AppealDetail | None:
        if account.resident_id is None:
            return None
        return await self._uow.appeals.detail_for_resident(appeal_id, account.resident_id)

    async def find_own(self, account: Account, typed: str) -> AppealDetail | None:
        """An appeal of this resident by its number; a number of someone else's appeal is
        not found, exactly like one that does not exist. Digits alone mean this year's."""
        compact = "".join(typed.split())
        if compact.isdigit() and len(compact) <= 9 and int(compact) > 0:
            compact = format_number(self._prefix, self._clock().year, int(compact))
        if parse_number(compact) is None:
            return None
        appeal_id = await self._uow.appeals.id_by_number(compact)
        return await self.detail(account, appeal_id) if appeal_id is not None else None
