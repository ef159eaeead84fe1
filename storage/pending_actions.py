"""Pending desk actions (domain.pending.PendingStore) in the database."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.pending import PendingAction, PendingChange, PendingKind
from storage.models import StaffPendingAction


def _action(row: StaffPendingAction) -> PendingAction:
    return PendingAction(
        id=row.id,
        token=row.token,
        chat_id=row.chat_id,
        operator_id=row.operator_id,
        operator_name=row.operator_name,
        appeal_id=row.appeal_id,
        kind=PendingKind(row.kind),
        created_at=row.created_at,
        expires_at=row.expires_at,
        prompt_message_id=row.prompt_message_id,
        note=row.note,
        duplicate_of=row.duplicate_of_id,
        media_kind=row.media_kind,
        media_ref=row.media_ref,
        media_unique_id=row.media_unique_id,
    )


class PendingActionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(
        self,
        chat_id: int,
        operator_id: int,
        operator_name: str,
        appeal_id: int,
        change: PendingChange,
        now: datetime,
    ) -> PendingAction:
        # A new row (new id and token) rather than an update: buttons of the previous step
        # must stop working.
        await self._session.execute(
            delete(StaffPendingAction).where(
                StaffPendingAction.chat_id == chat_id,
                StaffPendingAction.operator_id == operator_id,
                StaffPendingAction.appeal_id == appeal_id,
            )
        )
        row = StaffPendingAction(
            token=secrets.token_hex(4),
            chat_id=chat_id,
            operator_id=operator_id,
            operator_name=operator_name[:128],
            appeal_id=appeal_id,
            kind=change.kind.value,
            created_at=now,
            expires_at=change.expires_at,
            note=change.note,
            duplicate_of_id=change.duplicate_of,
            media_kind=change.media_kind,
            media_ref=change.media_ref,
            media_unique_id=change.media_unique_id,
        )
        self._session.add(row)
        await self._session.flush()
        return _action(row)

    async def get(self, pending_id: int) -> PendingAction | None:
        row = await self._session.get(StaffPendingAction, pending_id)
        return _action(row) if row else None

    async def of(self, chat_id: int, operator_id: int, appeal_id: int) -> PendingAction | None:
        query = select(StaffPendingAction).where(
            StaffPendingAction.chat_id == chat_id,
            StaffPendingAction.operator_id == operator_id,
            StaffPendingAction.appeal_id == appeal_id,
        )
        row = (await self._session.execute(query)).scalar_one_or_none()
        return _action(row) if row else None

    async def by_prompt(self, chat_id: int, message_id: int) -> PendingAction | None:
        query = select(StaffPendingAction).where(
            StaffPendingAction.chat_id == chat_id,
            StaffPendingAction.prompt_message_id == message_id,
        )
        row = (await self._session.execute(query)).scalars().first()
        return _action(row) if row else None

    async def all_of(self, chat_id: int, operator_id: int) -> list[PendingAction]:
        query = (
            select(StaffPendingAction)
            .where(
                StaffPendingAction.chat_id == chat_id,
                StaffPendingAction.operator_id == operator_id,
            )
            .order_by(StaffPendingAction.id)
        )
        return [_action(row) for row in (await self._session.execute(query)).scalars()]

    async def set_prompt(self, pending_id: int, token: str, message_id: int) -> None:
        await self._session.execute(
            update(StaffPendingAction)
            .where(StaffPendingAction.id == pending_id, StaffPendingAction.token == token)
            .values(prompt_message_id=message_id)
        )

    async def delete(self, pending_id: int) -> None:
        await self._session.execute(
            delete(StaffPendingAction).where(StaffPendingAction.id == pending_id)
        )

    async def expired(self, now: datetime, limit: int = 100) -> list[PendingAction]:
        query = (
            select(StaffPendingAction)
            .where(StaffPendingAction.expires_at <= now)
            .order_by(StaffPendingAction.id)
            .limit(limit)
        )
        return [_action(row) for row in (await self._session.execute(query)).scalars()]
