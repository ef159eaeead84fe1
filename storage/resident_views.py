"""What a resident reads about their own appeals: «My appeals», a page at a time, and one
appeal with its history. Another resident's appeal is never found here."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from domain.entities import AppealDetail, AppealSummary
from domain.statuses import Status
from storage.events import AppealEventRepository
from storage.media import REPORT_ROLE
from storage.models import Appeal, AppealMedia, Category


def _summary(appeal: Appeal, names: dict[str, str]) -> AppealSummary:
    return AppealSummary(
        id=appeal.id,
        number=appeal.number,
        status=Status(appeal.status),
        category_names=dict(names),
        created_at=appeal.created_at,
        due_at=appeal.due_at,
        address=appeal.address,
        latitude=appeal.latitude,
        longitude=appeal.longitude,
    )


class ResidentAppealViews(AppealEventRepository):
    """Built on the event store: the detail shows the appeal's history."""

    async def page_for_resident(
        self, resident_id: int, *, offset: int, limit: int
    ) -> tuple[list[AppealSummary], int]:
        total = (
            await self._session.execute(
                select(func.count(Appeal.id)).where(Appeal.resident_id == resident_id)
            )
        ).scalar_one()
        rows = (
            await self._session.execute(
                select(Appeal, Category.names)
                .join(Category, Category.id == Appeal.category_id)
                .where(Appeal.resident_id == resident_id)
                .order_by(Appeal.created_at.desc(), Appeal.id.desc())
                .offset(offset)
                .limit(limit)
            )
        ).all()
        return [_summary(appeal, names) for appeal, names in rows], int(total)

    async def detail_for_resident(self, appeal_id: int, resident_id: int) -> AppealDetail | None:
        """The appeal if it is this resident's; another resident's appeal is simply not found."""
        parent = aliased(Category)
        row = (
            await self._session.execute(
                select(Appeal, Category.names, parent.names)
                .join(Category, Category.id == Appeal.category_id)
                .outerjoin(parent, parent.id == Category.parent_id)
                .where(Appeal.id == appeal_id, Appeal.resident_id == resident_id)
            )
        ).one_or_none()
        if row is None:
            return None
        appeal, names, parent_names = row
        media_count = (
            await self._session.execute(
                select(func.count(AppealMedia.id)).where(
                    AppealMedia.appeal_id == appeal.id, AppealMedia.role == REPORT_ROLE
                )
            )
        ).scalar_one()
        history = tuple(await self.history(appeal.id))
        return AppealDetail(
            summary=_summary(appeal, names),
            parent_category_names=dict(parent_names) if parent_names else None,
            address=appeal.address,
            latitude=appeal.latitude,
            longitude=appeal.longitude,
            description=appeal.description,
            media_count=int(media_count),
            history=history,
        )
