"""The dialog's states and replies, against the neutral core and a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain.actions import Act
from domain.dialog.core import Dialog
from domain.dialog.replies import Request
from fsm_states.appeal import AppealForm, Registration
from storage.models import Appeal, AppealEvent, AppealMedia, ChannelAccount, Resident
from storage.uow import UnitOfWorkFactory
from tests.clock import FakeClock
from tests.dialog.transcript import Transcript

LUTSK = (50.7472, 25.3254)


@pytest.fixture
def olena(dialog: Dialog, uows: UnitOfWorkFactory) -> Transcript:
    return Transcript(dialog, uows, user_id=1001)


async def count(uows: UnitOfWorkFactory, model: type) -> int:
    async with uows() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
        )


async def test_unregistered_resident_is_asked_for_the_phone_first(olena: Transcript) -> None:
    replies = await olena.command("start")
    assert replies[-1].request is Request.CONTACT
    assert await olena.state() == Registration.phone
    # Anything but a contact keeps asking, and nothing is filed.
    replies = await olena.text("pothole on my street")
    assert replies[-1].request is Request.CONTACT
    replies = await olena.press(Act.NEW_APPEAL)
    assert replies[-1].request is Request.CONTACT


async def test_someone_elses_contact_is_refused(olena: Transcript, uows: UnitOfWorkFactory) -> None:
    await olena.command("start")
    await olena.contact("+380671112233", own=False)
    assert "own phone number" in olena.texts()
    assert await count(uows, Resident) == 0
    await olena.contact("+380671112233")
    assert "+380671112233" in olena.texts()
    assert await count(uows, Resident) == 1
    assert await olena.state() is None
    assert "new" in olena.actions()


async def test_whole_appeal_with_subcategory_location_photos(
    olena: Transcript, uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    assert await olena.state() == AppealForm.category
    assert "cat:roads" in olena.actions()
    await olena.press(Act.CATEGORY, "roads")
    assert await olena.state() == AppealForm.subcategory
    assert "sub:pothole" in olena.actions()
    await olena.press(Act.SUBCATEGORY, "pothole")
    assert await olena.state() == AppealForm.location
    assert olena.replies[-1].request is Request.LOCATION
    await olena.location(*LUTSK)
    assert await olena.state() == AppealForm.media
    await olena.photo()
    await olena.photo()
    assert "2 files received" in olena.texts()
    await olena.press(Act.MEDIA_DONE)
    assert await olena.state() == AppealForm.description
    await olena.text("A deep pothole in front of house 12, cars swerve into the oncoming lane.")
    assert await olena.state() == AppealForm.review
    review = olena.texts()
    assert "Roads and pavements → Pothole" in review
    assert "Photos and videos: 2" in review
    await olena.press(Act.SUBMIT)
    assert await olena.state() is None
    assert "1580-2026-000001" in olena.texts()
    # Roads take 240 hours: 10 days after 29.11.2026 11:00 Kyiv time.
    assert "09.12.2026 11:00" in olena.texts()
    async with uows() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        media = (await uow.session.execute(select(AppealMedia))).scalars().all()
        events = (await uow.session.execute(select(AppealEvent))).scalars().all()
        assert appeal.status == "new"
        assert (appeal.latitude, appeal.longitude) == LUTSK
        assert appeal.due_at == clock.now + timedelta(hours=240)
        assert [m.file_ref for m in media] == ["photo-1", "photo-2"]
        assert [(e.from_status, e.to_status) for e in events] == [(None, "new")]


async def test_numbers_increase(olena: Transcript, dialog: Dialog, uows: UnitOfWorkFactory) -> None:
    for expected in ("1580-2026-000001", "1580-2026-000002"):
        await file_quick_appeal(olena)
        assert expected in olena.texts()


async def file_quick_appeal(who: Transcript, address: str = "вул. Лесі Українки, 1") -> None:
    if await who.state() is None and not await count_accounts_registered(who):
        await who.register()
    await who.press(Act.NEW_APPEAL)
    await who.press(Act.CATEGORY, "emergency")
    await who.press(Act.URGENT_GO)
    await who.text(address)
    await who.press(Act.MEDIA_SKIP)
    await who.text("Something is badly broken here, please fix.")
    await who.press(Act.SUBMIT)


async def count_accounts_registered(who: Transcript) -> bool:
    async with who.uows() as uow:
        row = (
            await uow.session.execute(
                select(ChannelAccount.resident_id).where(ChannelAccount.external_id == who.user_id)
            )
        ).scalar_one_or_none()
    return row is not None


async def test_wrong_input_at_every_step_gets_a_clear_answer(olena: Transcript) -> None:
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.send(other="sticker")
    assert "can't use a sticker here" in olena.texts()
    assert await olena.state() == AppealForm.category
    await olena.text("roads please")
    assert "choose a category with the buttons" in olena.texts()
    await olena.press(Act.CATEGORY, "no_such_category")
    assert "not available" in olena.texts()
    await olena.press(Act.CATEGORY, "pothole")  # a sub-category offered as a root
    assert "not available" in olena.texts()
    await olena.press(Act.CATEGORY, "roads")
    await olena.press(Act.SUBCATEGORY, "light_off")  # belongs to another category
    assert "not available" in olena.texts()
    await olena.press(Act.SUBCATEGORY, "pothole")
    await olena.send(other="sticker")
    assert "needs a location or a typed address" in olena.texts()
    assert olena.replies[-1].request is Request.LOCATION
    await olena.location(50.4501, 30.5234)  # Kyiv
    assert "outside the city" in olena.texts()
    assert await olena.state() == AppealForm.location
    await olena.text("ab")
    assert "too short" in olena.texts()
    await olena.text("x" * 301)
    assert "too long" in olena.texts()
    await olena.text("просп. Волі, 4")
    assert await olena.state() == AppealForm.media
    await olena.text("here is my photo")
    assert "needs photos or videos" in olena.texts()
    await olena.press(Act.MEDIA_DONE)
    assert "No photos yet" in olena.texts()
    await olena.press(Act.SUBMIT)
    assert "belongs to another step" in olena.texts()
    await olena.press(Act.MEDIA_SKIP)
    await olena.photo()
    assert "needs a text description" in olena.texts()
    await olena.text("short")
    assert "too short" in olena.texts()
    await olena.text("x" * 10_000)
    assert "10000 characters" in olena.texts() and "2000" in olena.texts()
    assert await olena.state() == AppealForm.description
    await olena.send(bad_action=True)
    assert "no longer valid" in olena.texts()
    await olena.text("The pavement is broken near the stop.")
    await olena.text("random text at review")
    assert "Submit" in olena.texts()
    assert await olena.state() == AppealForm.review
    data = await olena.data()
    assert data["address"] == "просп. Волі, 4"


async def test_album_gets_one_reply_and_the_limit_holds(olena: Transcript) -> None:
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "emergency")
    await olena.press(Act.URGENT_GO)
    await olena.location(*LUTSK)
    first = await olena.photo(group="album-1")
    assert "Album received" in olena.texts()
    for _ in range(3):
        assert await olena.photo(group="album-1") == []
    assert len((await olena.data())["media"]) == 4
    assert first
    for _ in range(6):
        await olena.photo()
    assert len((await olena.data())["media"]) == 10
    await olena.photo()
    assert "limit of 10" in olena.texts()
    assert len((await olena.data())["media"]) == 10
    # A second album past the limit answers once, not per item.
    assert await olena.photo(group="album-2")
    assert await olena.photo(group="album-2") == []


async def test_back_cancel_and_change_from_review(
    olena: Transcript, uows: UnitOfWorkFactory
) -> None:
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "roads")
    await olena.press(Act.BACK)
    assert await olena.state() == AppealForm.category
    await olena.press(Act.CATEGORY, "emergency")
    await olena.press(Act.URGENT_GO)
    await olena.press(Act.BACK)  # from location back to category (no sub-categories)
    assert await olena.state() == AppealForm.category
    await olena.press(Act.CATEGORY, "emergency")
    await olena.press(Act.URGENT_GO)
    await olena.text("вул. Ковельська, 10")
    await olena.press(Act.BACK)
    assert await olena.state() == AppealForm.location
    await olena.text("вул. Ковельська, 12")
    await olena.press(Act.MEDIA_SKIP)
    await olena.text("Water is flooding the street since morning.")
    assert await olena.state() == AppealForm.review
    # Change the place from the review: finishing that step returns to the review.
    await olena.press(Act.EDIT, "location")
    assert await olena.state() == AppealForm.location
    await olena.location(*LUTSK)
    assert await olena.state() == AppealForm.review
    # A pin is a map link, not bare coordinates.
    assert "Place: 📍 pin on the map" in olena.texts()
    assert "https://www.google.com/maps?q=50.747200,25.325400" in olena.texts()
    await olena.press(Act.EDIT, "category")
    await olena.press(Act.CATEGORY, "water")
    assert await olena.state() == AppealForm.subcategory
    await olena.press(Act.SUBCATEGORY, "pipe_burst")
    assert await olena.state() == AppealForm.review
    assert "Water and sewage → Burst pipe, leak" in olena.texts()
    await olena.press(Act.EDIT, "description")
    await olena.press(Act.BACK)
    assert await olena.state() == AppealForm.review
    # Cancelling a filled draft asks first; «No» keeps it, «Yes» drops it.
    await olena.command("cancel")
    assert await olena.state() == AppealForm.review
    assert "Everything you entered will be lost" in olena.texts()
    assert olena.actions() == ["cancel:yes", "dcont"]
    await olena.press(Act.DRAFT_CONTINUE)
    assert await olena.state() == AppealForm.review
    await olena.command("cancel")
    await olena.press(Act.CANCEL, "yes")
    assert await olena.state() is None
    assert "cancelled" in olena.texts()
    assert await count(uows, Appeal) == 0


async def test_my_appeals_pages_and_privacy(
    dialog: Dialog, uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    olena = Transcript(dialog, uows, user_id=1)
    taras = Transcript(dialog, uows, user_id=2)
    await taras.command("start")
    await taras.contact("+380931112233")
    await olena.register()
    for _ in range(7):
        await file_quick_appeal(olena)
        clock.advance(minutes=5)
    await file_quick_appeal(taras)
    await olena.press(Act.MY_APPEALS)
    assert "page 1 of 2" in olena.texts()
    listed = [a for a in olena.actions() if a.startswith("ap:")]
    assert len(listed) == 5
    # Newest first.
    assert "1580-2026-000007" in olena.replies[-1].buttons[0][0].label
    assert "my:1" in olena.actions()
    await olena.press(Act.MY_APPEALS, "1")
    assert len([a for a in olena.actions() if a.startswith("ap:")]) == 2
    await olena.press(Act.APPEAL, listed[0].split(":")[1])
    assert "Appeal 1580-2026-000007" in olena.texts() and "History:" in olena.texts()
    assert "New" in olena.texts()
    # Taras's appeal (the 8th) cannot be opened by Olena, even with a forged button.
    taras_id = "8"
    await olena.press(Act.APPEAL, taras_id)
    assert "Appeal not found" in olena.texts()
    assert "1580-2026-000008" not in olena.texts()
    await taras.press(Act.APPEAL, taras_id)
    assert "Appeal 1580-2026-000008" in taras.texts()


async def test_language_switch_is_remembered(olena: Transcript) -> None:
    await olena.command("start")
    assert "share your phone number" in olena.texts()
    await olena.command("language")
    assert {"lang:uk", "lang:en"} <= set(olena.actions())
    await olena.press(Act.LANGUAGE, "uk")
    assert "Мову змінено на українську." in olena.texts()
    await olena.contact("+380501234567")
    assert "Головне меню" in olena.texts()
    await olena.press(Act.HELP)
    assert "15-80" in olena.texts()
    await olena.press(Act.LANGUAGE, "en")
    assert "The language is now English." in olena.texts()
    assert "Main menu" in olena.texts()


async def test_new_appeal_mid_form_keeps_the_draft(olena: Transcript) -> None:
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "emergency")
    await olena.press(Act.URGENT_GO)
    await olena.text("вул. Соборності, 5")
    await olena.press(Act.NEW_APPEAL)
    assert "not submitted yet" in olena.texts()
    assert {"dcont", "drst"} <= set(olena.actions())
    assert await olena.state() == AppealForm.media
    assert (await olena.data())["address"] == "вул. Соборності, 5"
    await olena.press(Act.DRAFT_CONTINUE)
    assert "Step 3 of 5" in olena.texts()
    assert (await olena.data())["address"] == "вул. Соборності, 5"
