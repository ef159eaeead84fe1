"""Messenger updates handled once: each one is claimed in the unit of work that handles it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from domain.dialog.events import Channel
from storage._sql import SessionStore, dialect_insert
from storage.models import ProcessedUpdate


class ProcessedUpdateRepository(SessionStore):
    """The updates already handled, so that a redelivered one is not handled twice."""

    async def seen(self, channel: Channel, update_id: int) -> bool:
        # Every update asks this: a plain SELECT is cheaper than Session.get's per-call clone.
        query = select(ProcessedUpdate.update_id).where(
            ProcessedUpdate.channel == channel.value, ProcessedUpdate.update_id == update_id
        )
        return (await self._session.execute(query)).first() is not None

    async def claim(self, channel: Channel, update_id: int, now: datetime) -> bool:
        """Record the event as handled; False when it already was."""
        result = await self._session.execute(
            dialect_insert(self._session)(ProcessedUpdate)
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
