"""The resident dialog over HTTP: webhook in, Bot API calls out, appeals in the database."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from standins.telegram import TelegramStandIn
from storage.models import Appeal, AppealEvent, AppealMedia
from storage.models import Resident as ResidentRow
from storage.uow import UnitOfWorkFactory
from tests.e2e.conftest import RunningBot
from tests.e2e.people import Resident, buttons, texts

LUTSK = (50.7472, 25.3254)


async def rows(running: RunningBot, model: type) -> int:
    assert running.app is not None
    async with running.app.uows() as uow:
        query = select(func.count()).select_from(model)
        return int((await uow.session.execute(query)).scalar_one())


def uows(running: RunningBot) -> UnitOfWorkFactory:
    assert running.app is not None
    return running.app.uows


async def test_start_to_stored_appeal(tg: TelegramStandIn, running: RunningBot) -> None:
    olena = Resident(tg, tg.user(5001, first_name="Olena", language_code="en"))
    greeting = await olena.say("/start")
    assert "Welcome" in texts(greeting)
    ask = greeting[-1]
    assert ask.keyboard() == [{"text": "📱 Share my phone number", "request_contact": True}]

    registered = await olena.share_phone("380501234567")
    assert "+380501234567" in texts(registered)
    assert registered[0].removes_keyboard
    assert {"new", "my", "help", "lang"} <= buttons(registered)

    categories = await olena.press("new")
    assert {"cat:roads", "cat:lighting", "cat:water", "cat:transport", "cat:other"} <= buttons(
        categories
    )
    subcategories = await olena.press("cat:roads")
    assert "sub:pothole" in buttons(subcategories)
    where = await olena.press("sub:pothole")
    assert any(b.get("request_location") for m in where for b in m.keyboard())
    assert {"back", "cancel"} <= buttons(where)

    after_pin = await olena.send_location(*LUTSK)
    assert after_pin[0].removes_keyboard
    assert "mskip" in buttons(after_pin)
    first = await olena.send_photo()
    assert "1 file received" in texts(first)
    second = await olena.send_photo()
    assert "2 files received" in texts(second)
    await olena.press("mdone")
    review = await olena.say("Deep pothole by the bus stop on Voli avenue, 12; cars swerve.")
    assert "Roads and pavements → Pothole" in texts(review)
    assert "submit" in buttons(review)

    done = await olena.press("submit")
    assert "1580-2026-000001" in texts(done)
    assert "Due by: 09.12.2026 11:00" in texts(done)
    # Every button press got its spinner stopped.
    assert len(tg.calls_of("answerCallbackQuery")) == 5

    photo_ids = [m["photo"][-1]["file_id"] for m in tg.history(olena.chat_id) if m.get("photo")]
    async with uows(running)() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        media = (await uow.session.execute(select(AppealMedia))).scalars().all()
        history = (await uow.session.execute(select(AppealEvent))).scalars().all()
        assert appeal.number == "1580-2026-000001"
        assert appeal.status == "new"
        assert appeal.description.startswith("Deep pothole")
        assert [m.file_ref for m in media] == photo_ids
        assert [(h.actor_kind, h.to_status) for h in history] == [("resident", "new")]
    assert await rows(running, ResidentRow) == 1


async def test_album_is_one_step_and_one_reply(tg: TelegramStandIn, running: RunningBot) -> None:
    taras = Resident(tg, tg.user(5002, language_code="en"))
    await taras.register()
    await taras.press("new")
    await taras.press("cat:emergency")
    await taras.press("urgo")
    await taras.send_location(*LUTSK)
    before = len(tg.messages(taras.chat_id))
    # Telegram sends an album as separate updates at once; they must not race on the draft.
    deliveries = await tg.send_album(
        taras.user, ["photo", "video", "photo", "photo"], concurrently=True
    )
    assert [d.status for d in deliveries] == [200, 200, 200, 200]
    replies = tg.messages(taras.chat_id)[before:]
    assert len(replies) == 1
    assert "Album received" in (replies[0].text or "")
    taras.catch_up()
    await taras.press("mdone")
    await taras.say("A tree fell on the power line, sparks everywhere.")
    await taras.press("submit")
    async with uows(running)() as uow:
        kinds = (await uow.session.execute(select(AppealMedia.kind))).scalars().all()
        assert sorted(kinds) == ["photo", "photo", "photo", "video"]


async def test_typed_address(tg: TelegramStandIn, running: RunningBot) -> None:
    ivan = Resident(tg, tg.user(5003, language_code="uk"))
    await ivan.register()
    await ivan.press("new")
    await ivan.press("cat:other")
    saved = await ivan.say("вул. Лесі Українки, 30, біля входу")
    assert "вул. Лесі Українки, 30, біля входу" in texts(saved)
    await ivan.press("mskip")
    await ivan.say("Зламана лавка у сквері, стирчать цвяхи.")
    done = await ivan.press("submit")
    assert "1580-2026-000001" in texts(done)
    assert "Ваше звернення зареєстровано" in texts(done)
    async with uows(running)() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        assert appeal.address == "вул. Лесі Українки, 30, біля входу"
        assert appeal.latitude is None


async def test_restart_in_the_middle_of_the_dialog(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    olena = Resident(tg, tg.user(5004, language_code="en"))
    await olena.register()
    await olena.press("new")
    await olena.press("cat:lighting")
    await olena.press("sub:light_off")
    await olena.send_location(*LUTSK)
    await running.restart()
    # After the restart the resident goes on where they were: the media step.
    reply = await olena.send_photo()
    assert "1 file received" in texts(reply)
    await olena.press("mdone")
    await olena.say("The street light has been out for a week.")
    done = await olena.press("submit")
    assert "1580-2026-000001" in texts(done)
    assert await rows(running, Appeal) == 1


async def test_wrong_input_gets_a_clear_reply(tg: TelegramStandIn, running: RunningBot) -> None:
    olena = Resident(tg, tg.user(5005, language_code="en"))
    await olena.say("/start")
    refused = await olena.send_sticker()
    assert "share your phone number" in texts(refused)
    await olena.share_phone()
    await olena.press("new")
    assert "can't use a sticker" in texts(await olena.send_sticker())
    await olena.press("cat:emergency")
    await olena.press("urgo")
    sticker = await olena.send_sticker()
    assert "needs a location or a typed address" in texts(sticker)
    outside = await olena.send_location(50.4501, 30.5234)
    assert "outside the city" in texts(outside)
    await olena.say("вул. Винниченка, 5")
    assert "needs photos or videos" in texts(await olena.say("photo later"))
    await olena.press("mskip")
    assert "needs a text description" in texts(await olena.send_photo())
    too_long = await olena.say("x" * 4000)
    assert "4000 characters, the limit is 2000" in texts(too_long)
    # A forged button changes nothing and says so.
    last = tg.last_message(olena.chat_id)
    await tg.press_button(olena.user, last, "submit:../../etc", check=False)
    assert "no longer valid" in texts(olena.new())
    await tg.press_button(olena.user, last, "ap:999", check=False)
    # Answered in place: the pressed message now says so.
    assert "Appeal not found" in (last.text or "") + texts(olena.new())
    assert await rows(running, Appeal) == 0


async def test_forged_contact_is_refused(tg: TelegramStandIn, running: RunningBot) -> None:
    mallory = Resident(tg, tg.user(5006, language_code="en"))
    tg.user(5007, first_name="Victim")
    await mallory.say("/start")
    await tg.send_contact(mallory.user, "+380991234567", contact_user_id=5007)
    assert "own phone number" in texts(mallory.new())
    await tg.send_contact(mallory.user, "+380991234567", contact_user_id=None)
    assert "own phone number" in texts(mallory.new())
    assert await rows(running, ResidentRow) == 0
    assert tg.last_message(mallory.chat_id).keyboard()[0]["request_contact"] is True


async def file_appeal(resident: Resident, description: str) -> str:
    await resident.say("/start")
    await resident.share_phone(f"+38050{resident.user.id:07d}")
    await resident.press("new")
    await resident.press("cat:water")
    await resident.press("sub:no_water")
    await resident.send_location(*LUTSK)
    await resident.send_photo()
    await resident.press("mdone")
    await resident.say(description)
    return texts(await resident.press("submit"))


async def test_two_residents_at_once(tg: TelegramStandIn, running: RunningBot) -> None:
    a = Resident(tg, tg.user(6001, language_code="en"))
    b = Resident(tg, tg.user(6002, language_code="en"))
    done_a, done_b = await asyncio.gather(
        file_appeal(a, "No water in building 3 since morning."),
        file_appeal(b, "No water in the whole street since 6 am."),
    )
    numbers = {n for n in ("1580-2026-000001", "1580-2026-000002") if n in done_a + done_b}
    assert numbers == {"1580-2026-000001", "1580-2026-000002"}
    async with uows(running)() as uow:
        stored = (await uow.session.execute(select(Appeal.description))).scalars().all()
        assert sorted(stored) == [
            "No water in building 3 since morning.",
            "No water in the whole street since 6 am.",
        ]
    # Nobody saw the other's dialog.
    assert "6 am" not in texts(tg.messages(a.chat_id))


async def _to_review(resident: Resident, address: str, description: str) -> None:
    """A new emergency appeal, typed address, no media, up to its review."""
    await resident.press("new")
    await resident.press("cat:emergency")
    await resident.press("urgo")
    await resident.say(address)
    await resident.press("mskip")
    await resident.say(description)


async def test_duplicate_webhook_delivery_is_handled_once(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    olena = Resident(tg, tg.user(5008, language_code="en"))
    await olena.register()
    await _to_review(olena, "вул. Градний узвіз, 1", "Gas smell near the entrance, please check.")
    review = tg.last_message(olena.chat_id)
    submit = await tg.press_button(olena.user, review, "submit")
    sent = len(tg.messages(olena.chat_id))
    again = await tg.deliver(submit.update)
    assert again.status == 200
    both = await asyncio.gather(tg.deliver(submit.update), tg.deliver(submit.update))
    assert [d.status for d in both] == [200, 200]
    assert len(tg.messages(olena.chat_id)) == sent
    assert await rows(running, Appeal) == 1


async def test_a_submit_delivered_again_after_a_restart_files_nothing_twice(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    """The restarted process does not remember the update: the claim written with the
    filing, in the same transaction, is what turns the redelivery away. The appeal numbers
    the new process gives out go on after the stored one."""
    olena = Resident(tg, tg.user(5009, language_code="en"))
    await olena.register()
    await _to_review(olena, "вул. Градний узвіз, 1", "Gas smell near the entrance, please check.")
    submit = await tg.press_button(olena.user, tg.last_message(olena.chat_id), "submit")
    assert submit.status == 200
    assert "1580-2026-000001" in texts(tg.messages(olena.chat_id))
    await running.restart()
    sent = len(tg.messages(olena.chat_id))
    again = await tg.deliver(submit.update)
    assert again.status == 200
    assert len(tg.messages(olena.chat_id)) == sent
    assert await rows(running, Appeal) == 1
    await _to_review(olena, "вул. Градний узвіз, 3", "The smell is back, now at the next entrance.")
    second = await olena.press("submit")
    assert "1580-2026-000002" in texts(second)
    assert await rows(running, Appeal) == 2


async def test_webhook_without_the_secret_is_refused(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    olena = tg.user(5009, language_code="en")
    update = {
        "update_id": 990001,
        "message": {
            "message_id": 1,
            "date": 1764400000,
            "chat": {"id": olena.id, "type": "private", "first_name": "Olena"},
            "from": {"id": olena.id, "is_bot": False, "first_name": "Olena"},
            "text": "/start",
        },
    }
    assert await tg.post_webhook(update, secret=None) == 401
    assert await tg.post_webhook(update, secret="guess") == 401
    assert tg.messages(olena.id) == []
    assert await tg.post_webhook(update) == 200
    assert len(tg.messages(olena.id)) > 0


async def test_quick_messages_are_handled_in_order(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    olena = Resident(tg, tg.user(5010, language_code="en"))
    await olena.register()
    await olena.press("new")
    await olena.press("cat:emergency")
    await olena.press("urgo")
    await olena.send_location(*LUTSK)
    # Five photos sent one after another without waiting (not an album): each is counted.
    await asyncio.gather(*(tg.send_photo(olena.user) for _ in range(5)))
    replies = [m.text for m in tg.messages(olena.chat_id)[-5:]]
    assert replies == [
        f"{n} file{'s' if n > 1 else ''} received. Send more or press «Done»." for n in range(1, 6)
    ]


async def test_my_appeals_over_telegram(tg: TelegramStandIn, running: RunningBot) -> None:
    olena = Resident(tg, tg.user(5011, language_code="en"))
    await file_appeal(olena, "No cold water on the 4th floor.")
    listing = await olena.press("my")
    (appeal_button,) = [d for d in buttons(listing) if d.startswith("ap:")]
    detail = await olena.press(appeal_button)
    assert "Appeal 1580-2026-000001" in texts(detail)
    assert "Status: New" in texts(detail)
    assert "No cold water on the 4th floor." in texts(detail)


async def test_one_phone_from_two_accounts_at_once_stays_two_residents(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    """Accounts are never joined by a phone number alone: each registers on its own, at once,
    without a constraint error."""
    phone_owner = [Resident(tg, tg.user(uid, language_code="en")) for uid in (6101, 6102)]
    await asyncio.gather(*(r.say("/start") for r in phone_owner))
    await asyncio.gather(*(r.share_phone("+380671234567") for r in phone_owner))
    assert await rows(running, ResidentRow) == 2
    for r in phone_owner:
        assert "new" in buttons(tg.messages(r.chat_id))
