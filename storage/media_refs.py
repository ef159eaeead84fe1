"""Which stored media files the appeals still use (the rest may be removed)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AppealMedia


class MediaRefs:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def local(self, prefix: str) -> set[str]:
        """File references of appeal media kept by the bot (those starting with `prefix`)."""
        query = select(AppealMedia.file_ref).where(AppealMedia.file_ref.startswith(prefix))
        return set((await self._session.execute(query)).scalars())
