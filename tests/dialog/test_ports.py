"""The dialog over in-memory fakes of the domain's ports: no database, no aiogram. Proves the
domain runs on what `domain.ports` states, and pins the form's table (steps, back, edits)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.actions import Act, Action
from domain.dialog.core import Dialog, DialogConfig
from domain.dialog.events import Channel, ContactShare, Inbound
from domain.dialog.form import EDITABLE_STEPS, STEPS
from domain.dialog.replies import Reply
from domain.entities import CategoryInfo
from domain.geo import Bounds
from domain.i18n import Translator
from domain.kinds import EventKind, OutboxKind
from domain.lifecycle import LifecycleConfig
from domain.statuses import Status
from fsm_states import AppealForm, CallForm, Registration
from tests.dialog.fakes import FakeState, FakeUnitOfWork

ROOT = Path(__file__).resolve().parents[2]
KYIV = ZoneInfo("Europe/Kyiv")
STAFF_CHAT = -1001
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CATEGORIES = (
    CategoryInfo(1, "roads", {"en": "Roads", "uk": "Дороги"}, 72, "roads", None, False),
    CategoryInfo(2, "danger", {"en": "Danger", "uk": "Небезпека"}, 24, "ops", None, False, True),
)


class Resident:
    """One resident talking to the dialog over the fakes; each call is one event."""

    def __init__(self) -> None:
        config = DialogConfig(
            city_bounds=Bounds(50.68, 25.23, 50.8, 25.42),
            timezone=KYIV,
            number_prefix="1580",
            contact_centre_phone="15-80",
            lifecycle=LifecycleConfig(STAFF_CHAT, "uk", KYIV, "15-80", timedelta(days=3)),
        )
        self.dialog = Dialog(config, Translator(ROOT / "locales", "uk"), lambda: NOW)
        self.uow = FakeUnitOfWork(CATEGORIES)
        self.state = FakeState()
        self._base = Inbound(Channel.TELEGRAM, "7", locale_hint="en", display_name="Olena")

    async def send(self, event: Inbound) -> list[Reply]:
        return await self.dialog.handle(event, self.state, self.uow)

    async def text(self, text: str) -> list[Reply]:
        return await self.send(replace(self._base, text=text))

    async def press(self, act: Act, arg: str = "") -> list[Reply]:
        return await self.send(replace(self._base, action=Action(act, arg)))

    async def register(self) -> None:
        await self.send(replace(self._base, command="start"))
        assert self.state.step == Registration.phone
        contact = ContactShare("+380501234567", is_own=True, verified=True)
        await self.send(replace(self._base, contact=contact))
        assert self.state.step is None


async def test_a_resident_files_an_appeal_with_the_stores_in_memory() -> None:
    olena = Resident()
    await olena.register()
    assert olena.uow.identity.records == ["phone_verified"]

    await olena.press(Act.NEW_APPEAL)
    assert olena.state.step == AppealForm.category
    await olena.press(Act.CATEGORY, "roads")
    assert olena.state.step == AppealForm.location
    await olena.text("Lesi Ukrainky street, 1")
    assert olena.state.step == AppealForm.media
    await olena.press(Act.MEDIA_SKIP)
    assert olena.state.step == AppealForm.description
    replies = await olena.text("A deep pothole in the middle of the road.")
    assert olena.state.step == AppealForm.review
    # The review's edit buttons are the form table's, in its order.
    edits = [b.action.arg for row in replies[-1].buttons for b in row if b.action.act is Act.EDIT]
    assert edits == ["category", "location", "media", "description"]

    replies = await olena.press(Act.SUBMIT)
    assert olena.state.step is None
    assert "1580-2026-000001" in replies[0].text
    appeal = olena.uow.appeals.rows[1]
    assert (appeal.address, appeal.description, appeal.category_id) == (
        "Lesi Ukrainky street, 1",
        "A deep pothole in the middle of the road.",
        1,
    )
    assert appeal.events == [(EventKind.STATUS, Status.NEW)]
    assert olena.uow.outbox.items == [(str(STAFF_CHAT), OutboxKind.CARD, 1)]


async def test_back_from_the_emergency_numbers_returns_to_the_categories() -> None:
    olena = Resident()
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "danger")
    assert olena.state.step == AppealForm.urgent
    replies = await olena.press(Act.BACK)
    assert olena.state.step == AppealForm.category
    assert any(b.action.act is Act.CATEGORY for row in replies[-1].buttons for b in row)


@pytest.mark.parametrize(
    ("step", "back_to"),
    [
        (AppealForm.subcategory, AppealForm.category),
        (AppealForm.media, AppealForm.location),
        (AppealForm.description, AppealForm.media),
        (AppealForm.review, AppealForm.description),
        (CallForm.caller_name, AppealForm.description),
    ],
)
async def test_back_follows_the_form_table(step: str, back_to: str) -> None:
    olena = Resident()
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "roads")
    olena.state.step = step
    await olena.press(Act.BACK)
    assert olena.state.step == back_to


async def test_back_from_the_first_step_cancels_the_form() -> None:
    olena = Resident()
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    replies = await olena.press(Act.BACK)
    assert olena.state.step is None
    assert replies[0].text == "The appeal was cancelled; nothing was sent."


def test_the_form_table_holds_every_form_step() -> None:
    assert set(STEPS) == {*AppealForm, CallForm.caller_name}
    assert EDITABLE_STEPS == {
        "category": AppealForm.category,
        "location": AppealForm.location,
        "media": AppealForm.media,
        "description": AppealForm.description,
    }
