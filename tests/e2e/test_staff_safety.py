"""Operators can't hurt a resident by accident: pending actions bound to their card and their
operator, confirmations before anything reaches a resident, stale presses, membership that
follows the chat, and cards that cost as few messages as Telegram allows."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from standins.telegram import FakeUser, TelegramStandIn
from storage.models import AppealEvent, AppealMedia
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, texts
from tests.e2e.staff import LUTSK, file_appeal, staff_chat, staff_texts, status_of


async def in_progress(resident: Resident, running: RunningBot, oksana: Operator) -> str:
    number = await file_appeal(resident, running)
    await oksana.press(number, f"s_acc:{number_id(number)}")
    await oksana.press(number, f"s_go:{number_id(number)}")
    resident.new()
    return number


def number_id(number: str) -> int:
    """Appeals are numbered in filing order in these tests, from 1."""
    return int(number.rsplit("-", 1)[1])


async def test_chat_after_reject_is_not_the_reason_and_only_a_confirmed_reason_goes_out(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5201, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana, petro = Operator(tg, operators[0], desk), Operator(tg, operators[1], desk)
    await oksana.press(number, "s_rej:1")
    prompt = oksana.last_from_bot()
    assert "reply to this message with the reason" in (prompt.text or "")

    # Operators keep talking in the group: none of it is taken, nobody is answered.
    before = len(tg.messages(STAFF_CHAT))
    await oksana.say("colleagues, who is buying lunch today?")
    await petro.say("I am, as usual")
    assert tg.messages(STAFF_CHAT)[before:] == []
    # Another operator's reply to Oksana's prompt is not her answer.
    await tg.send_text(petro.user, "Not ours", chat=staff_chat(tg), reply_to=prompt)
    await desk.settle()
    assert "This question was for Oksana" in staff_texts(tg, before)
    assert await status_of(desk, number) == "new"

    await tg.send_text(
        oksana.user, "Private territory of a factory.", chat=staff_chat(tg), reply_to=prompt
    )
    await desk.settle()
    confirmation = oksana.confirmation()
    preview = confirmation.text or ""
    assert "will be rejected and the resident will get" in preview
    assert f"Appeal {number}: Rejected" in preview
    assert "Operator's note: Private territory of a factory." in preview
    assert await status_of(desk, number) == "new"
    assert olena.new() == []

    # Only Oksana can send it.
    ok = next(d for _, d in confirmation.buttons() if d.startswith("s_ok:"))
    answer = await tg.wait_for_callback_answer(await tg.press_button(petro.user, confirmation, ok))
    assert answer["show_alert"] is True
    assert "Only Oksana" in str(answer["text"])
    assert await status_of(desk, number) == "new"

    await oksana.confirm()
    assert await status_of(desk, number) == "rejected"
    told = texts(olena.new())
    assert "Rejected" in told
    assert "Private territory of a factory." in told
    assert "lunch" not in told
    # The old button cannot confirm anything again.
    again = await tg.press_button(oksana.user, confirmation, ok, check=False)
    assert "no longer valid" in str((await tg.wait_for_callback_answer(again))["text"])


async def test_photo_replied_to_card_b_never_completes_a(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    oksana = Operator(tg, operators[0], desk)
    anna = Resident(tg, tg.user(5202, language_code="en"))
    bohdan = Resident(tg, tg.user(5203, language_code="en"))
    first = await in_progress(anna, desk, oksana)
    second = await in_progress(bohdan, desk, oksana)

    await oksana.press(first, "s_done:1")
    await oksana.reply_photo(second, caption="Done on B")
    # B's card got the photo: the desk asks about B, and A is untouched.
    question = oksana.confirmation()
    assert f"mark {second} done with this photo?" in (question.text or "")
    assert await status_of(desk, first) == "in_progress"
    assert await status_of(desk, second) == "in_progress"
    assert anna.new() == []
    assert bohdan.new() == []

    await oksana.confirm()
    assert await status_of(desk, second) == "done"
    assert await status_of(desk, first) == "in_progress"
    assert anna.new() == []
    assert "Is the problem fixed?" in texts(bohdan.new())

    # A still waits for its own photo, replied to its own card.
    await oksana.reply_photo(first, caption="Done on A")
    assert await status_of(desk, first) == "done"
    assert desk.app is not None
    async with desk.app.uows() as uow:
        per_appeal = dict(
            (
                await uow.session.execute(
                    select(AppealMedia.appeal_id, func.count())
                    .where(AppealMedia.role == "completion")
                    .group_by(AppealMedia.appeal_id)
                )
            ).all()
        )
    assert per_appeal == {1: 1, 2: 1}


async def test_photo_to_a_card_that_is_not_in_progress_is_not_used(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5204, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    before = len(tg.messages(STAFF_CHAT))
    await oksana.reply_photo(number)
    assert "only an appeal in progress can be marked done" in staff_texts(tg, before)
    # A sticker replied to the card is neither a message nor a completion photo.
    before = len(tg.messages(STAFF_CHAT))
    await tg.send_sticker(oksana.user, chat=staff_chat(tg), reply_to=oksana.card(number))
    await desk.settle()
    assert "this was neither, so nothing was done" in staff_texts(tg, before)
    assert await status_of(desk, number) == "new"
    assert olena.new() == []


async def test_pending_action_expires_with_a_notice(
    tg: TelegramStandIn,
    desk: RunningBot,
    clock: FakeClock,
    operators: tuple[FakeUser, FakeUser],
) -> None:
    olena = Resident(tg, tg.user(5205, language_code="en"))
    number = await file_appeal(olena, desk)
    other = Resident(tg, tg.user(5209, language_code="en"))
    second = await file_appeal(other, desk)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(number, "s_rej:1")
    prompt = oksana.last_from_bot()
    # An operator's text to the resident waits for a tap too.
    await oksana.reply(second, "We will come tomorrow morning.")
    relay = oksana.confirmation()
    assert desk.app is not None
    clock.advance(minutes=9)
    assert (await desk.app.maintenance.tick()).expired == []
    clock.advance(minutes=2)
    assert len((await desk.app.maintenance.tick()).expired) == 2
    await desk.settle()
    assert f"your unfinished action on {number} expired" in staff_texts(tg)
    assert f"your unfinished action on {second} expired" in staff_texts(tg)

    # Late answers change nothing and reach nobody.
    before = len(tg.messages(STAFF_CHAT))
    await tg.send_text(oksana.user, "Not our street", chat=staff_chat(tg), reply_to=prompt)
    await desk.settle()
    assert "no longer waits for an answer" in staff_texts(tg, before)
    ok = next(d for _, d in relay.buttons() if d.startswith("s_ok:"))
    late = await tg.press_button(oksana.user, relay, ok)
    assert "no longer valid" in str((await tg.wait_for_callback_answer(late))["text"])
    await desk.settle()
    assert await status_of(desk, number) == "new"
    assert olena.new() == []
    assert other.new() == []


async def test_cancel_ends_what_was_asked(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5206, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(number, "s_dup:1")
    await oksana.say("/cancel")
    assert f"Cancelled ({number})" in staff_texts(tg)
    before = len(tg.messages(STAFF_CHAT))
    await oksana.say("/cancel")
    assert "Nothing was waiting for you." in staff_texts(tg, before)
    await oksana.reply(number, "Is it still leaking?")
    await oksana.confirm(drop=True)
    assert olena.new() == []
    assert "Cancelled by Oksana" in staff_texts(tg)


async def test_two_operators_racing_on_one_card(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5207, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana, petro = Operator(tg, operators[0], desk), Operator(tg, operators[1], desk)
    card = oksana.card(number)
    deliveries = await asyncio.gather(
        tg.press_button(oksana.user, card, "s_acc:1"), tg.press_button(petro.user, card, "s_acc:1")
    )
    answers = [str((await tg.wait_for_callback_answer(d))["text"]) for d in deliveries]
    await desk.settle()
    winners = [a for a in answers if a == f"{number}: Accepted"]
    losers = [a for a in answers if a.startswith("Already «Accepted»: ")]
    assert len(winners) == 1
    assert len(losers) == 1
    winner = "Oksana" if answers[0] == winners[0] else "Petro"
    assert losers[0].startswith(f"Already «Accepted»: {winner}, ")
    assert texts(olena.new()).count(f"Appeal {number}: Accepted") == 1
    assert desk.app is not None
    async with desk.app.uows() as uow:
        accepted = (
            await uow.session.execute(
                select(func.count()).where(AppealEvent.to_status == "accepted")
            )
        ).scalar_one()
    assert accepted == 1
    assert "Accepted" in (oksana.card(number).text or "")


async def test_membership_follows_the_chat_at_once(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5208, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana, petro = Operator(tg, operators[0], desk), Operator(tg, operators[1], desk)
    answer = await petro.press(number, "s_hist:1")
    assert answer["show_alert"] is False  # Petro is an operator (and now cached as one)

    chat = staff_chat(tg)
    removed = await tg.set_membership(chat, petro.user, member=False, by=oksana.user)
    assert removed.status == 200
    card = oksana.card(number)
    refused = await tg.press_button(petro.user, card, "s_tel:1", check=False)
    said = await tg.wait_for_callback_answer(refused)
    assert "Only operators" in str(said["text"])
    assert "+380" not in str(said["text"])

    await tg.set_membership(chat, petro.user, member=True, by=oksana.user)
    answer = await petro.press(number, "s_acc:1")
    assert answer["text"] == f"{number}: Accepted"

    # Someone the bot never heard about, while Telegram cannot answer: refused, try again.
    ivan = tg.user(902, first_name="Ivan")
    chat.add_member(ivan)
    tg.fail("getChatMember", status=500, times=1)
    unsure = await tg.press_button(ivan, oksana.card(number), "s_go:1")
    assert "try again" in str((await tg.wait_for_callback_answer(unsure))["text"])
    assert await status_of(desk, number) == "accepted"
    again = await tg.press_button(ivan, oksana.card(number), "s_go:1")
    assert str((await tg.wait_for_callback_answer(again))["text"]) == f"{number}: In progress"


async def test_cards_cost_as_few_messages_as_telegram_allows(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    async def file_with(user_id: int, photos: int) -> str:
        resident = Resident(tg, tg.user(user_id, language_code="en"))
        await resident.register()
        await resident.press("new")
        await resident.press("cat:emergency")
        await resident.press("urgo")
        await resident.send_location(*LUTSK)
        for _ in range(photos):
            await resident.send_photo()
        await resident.press("mdone" if photos else "mskip")
        await resident.say("A tree fell across the pavement.")
        done = texts(await resident.press("submit"))
        await desk.settle()
        return next(word for word in done.split() if word.startswith("1580-"))

    start = len(tg.messages(STAFF_CHAT))
    two = await file_with(5210, 2)
    album = tg.messages(STAFF_CHAT)[start:]
    assert [m.kind for m in album] == ["media_group_item", "media_group_item", "text"]
    start = len(tg.messages(STAFF_CHAT))
    none = await file_with(5211, 0)
    assert [m.kind for m in tg.messages(STAFF_CHAT)[start:]] == ["text"]
    assert tg.calls_of("sendLocation") == []
    oksana = Operator(tg, operators[0], desk)
    for number in (two, none):
        card = oksana.card(number)
        assert "Map: https://www.google.com/maps?q=" in (card.text or "")
        await oksana.press(number, f"s_acc:{number_id(number)}")
        assert "Accepted" in (oksana.card(number).text or "")
    # A caption card is edited as a caption and stays within Telegram's 1024 characters.
    one = await file_appeal(Resident(tg, tg.user(5212, language_code="en")), desk)
    await oksana.press(one, f"s_acc:{number_id(one)}")
    assert tg.calls_of("editMessageCaption")
    assert all(len(c.params["caption"]) <= 1024 for c in tg.calls_of("editMessageCaption"))


async def test_a_slow_membership_check_holds_no_resident(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5213, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    ivan = tg.user(903, first_name="Ivan")
    staff_chat(tg).add_member(ivan)
    slow = tg.hold("getChatMember")
    press = asyncio.create_task(tg.press_button(ivan, oksana.card(number), "s_acc:1"))
    await slow.entered.wait()
    # Telegram has not answered about Ivan yet; a resident is served meanwhile.
    andriy = Resident(tg, tg.user(5214, language_code="en"))
    answered = await andriy.say("/start")
    assert answered
    assert not press.done()
    slow.release()
    delivery = await press
    assert str((await tg.wait_for_callback_answer(delivery))["text"]) == f"{number}: Accepted"
