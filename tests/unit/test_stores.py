"""The stores split out of the appeal repository answer as the appeal repository does, and a
filed appeal starts from the domain's initial status."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.actions import Act
from domain.dialog.core import Dialog
from domain.statuses import INITIAL_STATUS, Status
from storage.resident_views import ResidentAppealViews
from storage.staff_views import StaffAppealViews
from storage.uow import UnitOfWorkFactory
from tests.dialog.transcript import Transcript

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


async def _file(who: Transcript) -> None:
    await who.press(Act.NEW_APPEAL)
    await who.press(Act.CATEGORY, "other")
    await who.text("вул. Лесі Українки, 1")
    await who.press(Act.MEDIA_SKIP)
    await who.text("A deep pothole by the bus stop.")
    await who.press(Act.SUBMIT)


async def test_a_filed_appeal_starts_with_one_event_into_the_initial_status(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    olena = Transcript(dialog, uows, 7001)
    await olena.register()
    await _file(olena)
    async with uows() as uow:
        appeal_id = await uow.appeals.id_by_number("1580-2026-000001")
        assert appeal_id is not None
        appeal = await uow.appeals.get(appeal_id)
        assert appeal is not None and appeal.status is INITIAL_STATUS
        (first,) = await uow.appeals.history(appeal_id)
    assert (first.kind, first.actor_kind) == ("status", "resident")
    assert (first.from_status, first.to_status) == (None, INITIAL_STATUS)


async def test_the_read_models_alone_answer_as_the_appeal_store(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    olena = Transcript(dialog, uows, 7002)
    await olena.register()
    await _file(olena)
    await _file(olena)
    async with uows() as uow:
        original = await uow.appeals.id_by_number("1580-2026-000001")
        copy = await uow.appeals.id_by_number("1580-2026-000002")
        assert original is not None and copy is not None
        await uow.appeals.set_status(copy, Status.DUPLICATE, NOW, duplicate_of_id=original)
        await uow.commit()
    async with uows() as uow:
        staff = StaffAppealViews(uow.session)
        copy_view = await staff.staff_view(copy)
        assert copy_view is not None and copy_view.duplicate_of == "1580-2026-000001"
        assert copy_view == await uow.appeals.staff_view(copy)
        original_view = await staff.staff_view(original)
        assert original_view is not None and original_view.duplicate_of is None
        assert await staff.staff_view(10_000) is None

        resident_id = copy_view.appeal.resident_id
        assert resident_id is not None
        resident = ResidentAppealViews(uow.session)
        page, total = await resident.page_for_resident(resident_id, offset=0, limit=10)
        assert total == 2 and [s.number for s in page] == ["1580-2026-000002", "1580-2026-000001"]
        assert page == (await uow.appeals.page_for_resident(resident_id, offset=0, limit=10))[0]
        detail = await resident.detail_for_resident(original, resident_id)
        assert detail is not None and detail.history[0].to_status is INITIAL_STATUS
        assert await resident.detail_for_resident(original, resident_id + 1) is None
