"""The resident's conversation on the neutral core: their language after the dialog, nothing
they type lost, emergencies first."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_dialog, create_lifecycle_config
from bot.config import Settings
from domain.actions import Act
from domain.dialog.core import Dialog
from domain.dialog.events import MediaItem, MediaKind
from domain.i18n import Translator
from domain.lifecycle import ActorRef, Lifecycle
from domain.statuses import Actor, Status
from fsm_states.appeal import AppealForm
from storage.models import Appeal, AppealEvent, AppealMedia, ChannelAccount, OutboxMessage
from storage.uow import UnitOfWorkFactory
from tests.clock import FakeClock
from tests.dialog.transcript import Transcript

OKSANA = ActorRef(Actor.OPERATOR, "900", "Oksana")
STAFF_CHAT = "-1001580"


@pytest.fixture
def staff_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staff_chat_id": int(STAFF_CHAT), "default_locale": "en"})


@pytest.fixture
def dialog(staff_settings: Settings, translator: Translator, clock: FakeClock) -> Dialog:
    return create_dialog(staff_settings, translator, clock)


@pytest.fixture
def lifecycle_of(staff_settings: Settings, translator: Translator, clock: FakeClock) -> Any:
    def make(uow: Any) -> Lifecycle:
        return Lifecycle(uow, translator, clock, create_lifecycle_config(staff_settings))

    return make


async def file_appeal(who: Transcript, description: str = "A deep pothole by the bus stop.") -> int:
    await who.press(Act.NEW_APPEAL)
    await who.press(Act.CATEGORY, "other")
    await who.text("вул. Лесі Українки, 1")
    await who.press(Act.MEDIA_SKIP)
    await who.text(description)
    await who.press(Act.SUBMIT)
    async with who.uows() as uow:
        return int((await uow.session.execute(select(func_max_id()))).scalar_one())


def func_max_id() -> Any:
    from sqlalchemy import func

    return func.max(Appeal.id)


async def operator(uows: UnitOfWorkFactory, lifecycle_of: Any, action: Any) -> None:
    async with uows() as uow:
        await action(lifecycle_of(uow))
        await uow.commit()


async def outbox_to(uows: UnitOfWorkFactory, chat: str) -> list[dict[str, Any]]:
    async with uows() as uow:
        rows = (
            await uow.session.execute(
                select(OutboxMessage.payload)
                .where(OutboxMessage.chat == chat, OutboxMessage.kind == "replies")
                .order_by(OutboxMessage.id)
            )
        ).scalars()
        return [reply for payload in rows for reply in payload["replies"]]


def texts_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies)


# -- 1. the resident's language everywhere ----------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "expected", "pushed", "department"),
    [
        ("en", "en", "It was accepted and passed to", "Contact centre 15-80"),
        ("uk", "uk", "Його прийнято та передано", "Контактний центр «15-80»"),
    ],
)
async def test_the_detected_language_is_kept_for_pushes(
    dialog: Dialog,
    uows: UnitOfWorkFactory,
    lifecycle_of: Any,
    hint: str,
    expected: str,
    pushed: str,
    department: str,
) -> None:
    resident = Transcript(dialog, uows, user_id=2001, locale=hint)
    await resident.register()
    appeal_id = await file_appeal(resident)
    async with uows() as uow:
        stored = (await uow.session.execute(select(ChannelAccount.locale))).scalar_one()
    assert stored == expected

    await operator(uows, lifecycle_of, lambda lc: lc.transition(appeal_id, Status.ACCEPTED, OKSANA))
    await operator(
        uows, lifecycle_of, lambda lc: lc.relay_to_resident(appeal_id, "Which entrance?", OKSANA)
    )
    await operator(
        uows, lifecycle_of, lambda lc: lc.transition(appeal_id, Status.IN_PROGRESS, OKSANA)
    )
    sent = await outbox_to(uows, "2001")
    text = texts_of(sent)
    assert pushed in text
    assert department in text
    answer = "↩️ Answer" if expected == "en" else "↩️ Відповісти"
    assert any(label == answer for r in sent for row in r["buttons"] for label, _ in row)


async def test_an_unsupported_language_is_not_stored_and_a_choice_wins(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    resident = Transcript(dialog, uows, user_id=2002, locale="de")
    await resident.register()
    async with uows() as uow:
        assert (await uow.session.execute(select(ChannelAccount.locale))).scalar_one() is None
    await resident.press(Act.LANGUAGE, "en")
    # A later hint in another language does not undo the choice.
    ukrainian = Transcript(dialog, uows, user_id=2002, locale="uk")
    replies = await ukrainian.command("help")
    assert "This bot takes appeals" in replies[0].text


# -- 2. nothing typed is lost -----------------------------------------------------------------


async def test_text_after_an_operators_message_goes_to_that_operator(
    dialog: Dialog, uows: UnitOfWorkFactory, lifecycle_of: Any
) -> None:
    olena = Transcript(dialog, uows, user_id=2003)
    await olena.register()
    appeal_id = await file_appeal(olena)
    await operator(
        uows, lifecycle_of, lambda lc: lc.relay_to_resident(appeal_id, "Which entrance?", OKSANA)
    )
    replies = await olena.text("The second one, near the pharmacy.")
    assert len(replies) == 1
    assert "Sent to the operator about appeal 1580-2026-000001" in replies[0].text
    assert "new" in olena.actions()  # the menu in the same message
    staff = texts_of(await outbox_to(uows, STAFF_CHAT))
    assert "The resident answers on 1580-2026-000001:\nThe second one, near the pharmacy." in staff

    # A photo goes the same way, and is kept with the appeal.
    item = MediaItem(MediaKind.PHOTO, "entrance-photo", "u-entrance")
    await olena.send(media=(item,), caption="Here it is")
    staff_replies = await outbox_to(uows, STAFF_CHAT)
    assert staff_replies[-1]["media"] == [["photo", "entrance-photo"]]
    assert "Here it is" in staff_replies[-1]["text"]
    async with uows() as uow:
        roles = (await uow.session.execute(select(AppealMedia.role))).scalars().all()
        relays = (
            await uow.session.execute(
                select(AppealEvent.note).where(AppealEvent.kind == "relay_in")
            )
        ).scalars()
        assert list(roles) == ["answer"]
        assert list(relays) == ["The second one, near the pharmacy.", "Here it is"]


async def test_the_answer_button_takes_a_photo_too(
    dialog: Dialog, uows: UnitOfWorkFactory, lifecycle_of: Any
) -> None:
    olena = Transcript(dialog, uows, user_id=2004)
    await olena.register()
    appeal_id = await file_appeal(olena)
    await operator(
        uows, lifecycle_of, lambda lc: lc.relay_to_resident(appeal_id, "A photo, please?", OKSANA)
    )
    await olena.press(Act.REPLY, str(appeal_id))
    await olena.send(media=(MediaItem(MediaKind.PHOTO, "ph-1", "u1"),))
    assert "Your answer is sent to the operator." in olena.texts()
    assert (await outbox_to(uows, STAFF_CHAT))[-1]["media"] == [["photo", "ph-1"]]


@pytest.mark.parametrize("choice", [Act.TO_OPERATOR, Act.TO_STEP])
async def test_mid_step_the_bot_asks_which_was_meant(
    dialog: Dialog, uows: UnitOfWorkFactory, lifecycle_of: Any, choice: Act
) -> None:
    olena = Transcript(dialog, uows, user_id=2005)
    await olena.register()
    appeal_id = await file_appeal(olena)
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "other")
    await operator(
        uows, lifecycle_of, lambda lc: lc.relay_to_resident(appeal_id, "Which house?", OKSANA)
    )
    replies = await olena.text("вул. Шопена, 9")
    assert "Is this your answer to them" in replies[0].text
    assert await olena.state() == AppealForm.location
    await olena.press(choice, str(appeal_id) if choice is Act.TO_OPERATOR else "")
    staff = texts_of(await outbox_to(uows, STAFF_CHAT))
    if choice is Act.TO_OPERATOR:
        assert "The resident answers on 1580-2026-000001:\nвул. Шопена, 9" in staff
        assert await olena.state() == AppealForm.location
        assert "Step 2 of 5" in olena.texts()
        assert (await olena.data())["address"] is None
    else:
        assert "The resident answers" not in staff
        assert (await olena.data())["address"] == "вул. Шопена, 9"
        assert await olena.state() == AppealForm.media
    # Asked once per operator's message: the next text goes to the step.
    if choice is Act.TO_STEP:
        await olena.press(Act.BACK)
    await olena.text("вул. Винниченка, 20")
    assert (await olena.data())["address"] == "вул. Винниченка, 20"


async def test_free_text_in_the_menu_can_start_an_appeal(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    olena = Transcript(dialog, uows, user_id=2006)
    await olena.register()
    said = "Good afternoon, the street light in our yard is out"
    replies = await olena.text(said)
    assert len(replies) == 1
    assert "file an appeal about this" in replies[0].text
    assert olena.actions()[0] == "newtx"
    await olena.press(Act.START_WITH_TEXT)
    assert await olena.state() == AppealForm.category
    await olena.press(Act.CATEGORY, "other")
    await olena.text("вул. Лесі Українки, 1")
    replies = await olena.press(Act.MEDIA_SKIP)
    # The description is not asked again: straight to the review.
    assert await olena.state() == AppealForm.review
    assert said in replies[-1].text


async def test_start_with_a_draft_asks_to_continue_or_start_again(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    olena = Transcript(dialog, uows, user_id=2007)
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "other")
    await olena.text("вул. Лесі Українки, 1")
    await olena.press(Act.MEDIA_SKIP)
    await olena.text("A bench is broken in the park.")
    assert await olena.state() == AppealForm.review
    await olena.command("start")
    assert "not submitted yet" in olena.texts()
    assert await olena.state() == AppealForm.review
    await olena.press(Act.DRAFT_CONTINUE)
    assert "A bench is broken in the park." in olena.texts()
    await olena.command("start")
    await olena.press(Act.DRAFT_RESTART)
    assert await olena.state() == AppealForm.category
    assert (await olena.data())["description"] is None


async def test_a_caption_is_the_description_and_a_photo_at_the_location_step_is_kept(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    olena = Transcript(dialog, uows, user_id=2008)
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "other")
    first = MediaItem(MediaKind.PHOTO, "loc-photo", "u-loc")
    replies = await olena.send(media=(first,), caption="The fence of the school is broken.")
    assert len(replies) == 1
    assert "Kept for step 3" in replies[0].text
    assert await olena.state() == AppealForm.location
    await olena.text("вул. Лесі Українки, 1")
    assert await olena.state() == AppealForm.media
    assert "1" in olena.texts() or "Done" in olena.texts()
    replies = await olena.press(Act.MEDIA_DONE)
    assert await olena.state() == AppealForm.review
    assert "Photos and videos: 1" in replies[-1].text
    assert "The fence of the school is broken." in replies[-1].text


# -- 3. emergencies first ---------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "go_on"), [("en", "Go on"), ("uk", "Продовжити")])
async def test_an_urgent_category_shows_the_emergency_numbers_first(
    dialog: Dialog, uows: UnitOfWorkFactory, locale: str, go_on: str
) -> None:
    olena = Transcript(dialog, uows, user_id=2009, locale=locale)
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    replies = await olena.press(Act.CATEGORY, "emergency")
    assert await olena.state() == AppealForm.urgent
    for number in ("101", "102", "103", "104", "112"):
        assert number in replies[0].text
    assert replies[0].buttons[0][0].action.act is Act.URGENT_GO
    assert go_on in replies[0].buttons[0][0].label
    # Typing does not skip them; one tap goes on.
    await olena.text("a torn power line is sparking, children nearby")
    assert await olena.state() == AppealForm.urgent
    assert "112" in olena.texts()
    await olena.press(Act.URGENT_GO)
    assert await olena.state() == AppealForm.location


async def test_a_category_that_is_not_urgent_goes_straight_on(
    dialog: Dialog, uows: UnitOfWorkFactory
) -> None:
    olena = Transcript(dialog, uows, user_id=2010)
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    replies = await olena.press(Act.CATEGORY, "other")
    assert await olena.state() == AppealForm.location
    assert "112" not in "\n".join(r.text for r in replies)
