"""What the staff chat reads: everything an appeal's card shows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import aliased

from domain.entities import AppealChannel, CallOrigin, StaffView
from storage._rows import appeal_state
from storage.events import AppealEventRepository
from storage.media import AppealMediaRepository
from storage.models import Appeal, Category


class StaffAppealViews(AppealEventRepository, AppealMediaRepository):
    """Built on the event and media stores: the card shows the last event and the media."""

    async def staff_view(self, appeal_id: int) -> StaffView | None:
        parent = aliased(Category)
        original = aliased(Appeal)
        row = (
            await self._session.execute(
                select(Appeal, Category, parent, original.number)
                .join(Category, Category.id == Appeal.category_id)
                .outerjoin(parent, parent.id == Category.parent_id)
                .outerjoin(original, original.id == Appeal.duplicate_of_id)
                .where(Appeal.id == appeal_id)
            )
        ).one_or_none()
        if row is None:
            return None
        appeal, category, parent_category, duplicate_of = row
        history = await self.history(appeal_id)
        return StaffView(
            appeal=appeal_state(appeal),
            category_names=dict(category.names),
            parent_category_names=dict(parent_category.names) if parent_category else None,
            root_category_id=parent_category.id if parent_category else category.id,
            default_department=category.department,
            address=appeal.address,
            latitude=appeal.latitude,
            longitude=appeal.longitude,
            description=appeal.description,
            created_at=appeal.created_at,
            media=tuple(await self.media(appeal_id)),
            duplicate_of=duplicate_of,
            last_event=history[-1] if history else None,
            origin=CallOrigin(appeal.caller_name, appeal.taken_by_name, appeal.created_at)
            if appeal.channel == AppealChannel.PHONE
            else None,
        )
