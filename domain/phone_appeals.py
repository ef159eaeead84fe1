"""Appeals that come by phone: an operator files them for a caller, and they reach the caller's
messenger only through a number the caller verified there."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.actions import Act, Action
from domain.clock import Clock, due_date
from domain.dialog.events import Channel
from domain.dialog.replies import Button, Reply
from domain.draft import Draft
from domain.entities import NewMedia
from domain.i18n import Translator, gettext
from domain.kinds import EventKind, MediaRole
from domain.lifecycle import KIND_REPLIES, Lifecycle
from domain.numbering import format_number
from domain.services import IncompleteDraftError, Submitted
from domain.statuses import INITIAL_STATUS, Actor

if TYPE_CHECKING:
    from domain.ports import UnitOfWork

_ = gettext


def no_chat_text(number: str) -> str:
    return _(
        "{number} came by phone and its caller has no chat with the bot: nothing was sent. "
        "Please call them back."
    ).format(number=number)


class PhoneAppealService:
    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        number_prefix: str,
        lifecycle: Lifecycle,
        translator: Translator,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._prefix = number_prefix
        self._lifecycle = lifecycle
        self._translator = translator

    async def submit(self, draft: Draft, channel: Channel) -> Submitted:
        """File the appeal an operator took by phone. It belongs to the resident who verified
        the caller's number, if any; otherwise it waits for that number to be verified."""
        call = draft.call
        if call is None:
            raise IncompleteDraftError("not a phone appeal")
        category = await self._uow.categories.by_code(draft.category_code or "")
        if category is None or category.has_children:
            raise IncompleteDraftError("no valid category")
        if not draft.has_place or not draft.description:
            raise IncompleteDraftError("location and description are required")
        now = self._clock()
        owner = await self._uow.identity.verified_owner(call.phone)
        sequence = await self._uow.appeals.next_sequence(self._prefix, now.year)
        number = format_number(self._prefix, now.year, sequence)
        due_at = due_date(now, category.sla_hours)
        appeal_id = await self._uow.calls.add(
            number=number,
            resident_id=owner.resident_id if owner else None,
            category_id=category.id,
            location=draft.location,
            address=draft.address,
            description=draft.description,
            created_at=now,
            due_at=due_at,
            caller_phone=call.phone,
            caller_name=call.caller_name,
            operator_id=call.operator_id,
            operator_name=call.operator_name,
            status=INITIAL_STATUS,
        )
        if draft.media:
            media = [NewMedia(m.kind, channel, m.file_ref, m.unique_id) for m in draft.media]
            await self._uow.appeals.add_media(appeal_id, media, MediaRole.REPORT)
        await self._uow.appeals.add_event(
            appeal_id,
            at=now,
            kind=EventKind.STATUS,
            actor_kind=Actor.OPERATOR.value,
            actor_id=call.operator_id,
            actor_name=call.operator_name,
            to_status=INITIAL_STATUS,
            note=_("by phone"),
        )
        await self._lifecycle.post_card(appeal_id)
        if owner is not None and owner.resident_id is not None:
            await self._announce(owner.resident_id, appeal_id, number, due_at)
        return Submitted(number=number, due_at=due_at, category=category)

    async def _announce(
        self, resident_id: int, appeal_id: int, number: str, due_at: datetime
    ) -> None:
        """Tell the caller's chats that their call became an appeal they can follow here."""
        for account in await self._uow.identity.accounts_of(resident_id):
            with self._translator.use(account.locale):
                reply = Reply(
                    _(
                        "☎️ Your call to the contact centre is registered as appeal {number}, "
                        "due by {due}. Follow it in «My appeals»; changes will come here."
                    ).format(number=number, due=self._lifecycle.local_time(due_at)),
                    ((Button(_("📋 My appeals"), Action(Act.MY_APPEALS)),),),
                )
            await self._uow.outbox.add(
                channel=account.channel,
                chat=account.external_id,
                kind=KIND_REPLIES,
                payload={"replies": [reply.to_data()]},
                now=self._clock(),
                appeal_id=appeal_id,
            )
