"""The photos, videos and files attached to an appeal: the resident's report, then what
operators and residents add later, each with its role."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from domain.dialog.events import Channel, MediaKind
from domain.entities import NewMedia, StoredMedia
from domain.kinds import MediaRole
from storage._sql import SessionStore
from storage.models import AppealMedia

# The role of what the resident sent with the appeal itself (as the domain writes it).
REPORT_ROLE = MediaRole.REPORT


class AppealMediaRepository(SessionStore):
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
