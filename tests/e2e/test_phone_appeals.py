"""Phone appeals: an operator takes a call with /call in the staff chat, files it through the
same form in a private chat with the bot, and the appeal reaches the caller in the messenger
where they verified the number, or waits for that number (operators call back meanwhile)."""

from __future__ import annotations

import asyncio

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from standins.telegram import FakeUser, TelegramStandIn
from standins.viber import ViberStandIn
from storage.models import AccountEvent, Appeal, AppealEvent
from tests.e2e import test_viber
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, ViberResident, buttons, texts
from tests.e2e.staff import staff_texts, status_of

# The Viber tests' fixtures (staff chat, Oksana as operator, both channels), shared by name.
viber = test_viber.viber
viber_settings = test_viber.viber_settings
operator = test_viber.operator
both = test_viber.both

CALLER_PHONE = "+380501234567"


async def take_call(
    tg: TelegramStandIn, running: RunningBot, oksana: FakeUser, phone: str, caller: str
) -> str:
    """Oksana types /call in the staff chat and files the appeal in her private chat."""
    oksana = tg.user(oksana.id, first_name=oksana.first_name, language_code="en")
    staff_before = len(tg.messages(STAFF_CHAT))
    await tg.send_text(oksana, f"/call {phone}", chat=tg.chat(STAFF_CHAT))
    await running.settle()
    assert "continue the phone appeal in your private chat" in staff_texts(tg, staff_before)
    private = Resident(tg, oksana)
    first = private.new()
    assert f"Phone appeal for the caller at {phone}" in texts(first)
    assert "cat:emergency" in buttons(first)
    await private.press("cat:emergency")
    await private.say("вул. Лесі Українки, 1, біля під'їзду")
    await private.send_photo()
    await private.press("mdone")
    asked = texts(await private.say("Water is pouring from under the asphalt near house 7."))
    assert "The caller's name" in asked
    review = texts(await private.say(caller))
    assert f"By phone from {caller}, {phone}" in review
    done = texts(await private.press("submit"))
    assert "Phone appeal registered" in done
    await running.settle()
    return next(word for word in done.split() if word.startswith("1580-"))


async def test_a_call_from_a_verified_resident_reaches_her_telegram_through_to_fixed(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = Resident(tg, tg.user(5401, first_name="Olena", language_code="en"))
    await olena.register()  # verified: Telegram's own contact, +380501234567
    olena.new()
    number = await take_call(tg, both, operator, CALLER_PHONE, "Olena Kovalchuk")

    # The /call message with the number is gone from the staff chat; the card says "by phone".
    assert not [m for m in tg.messages(STAFF_CHAT) if (m.text or "").startswith("/call")]
    oksana = Operator(tg, operator, both)
    card = oksana.card(number)
    assert "☎️ By phone from Olena Kovalchuk; taken by Oksana at" in (card.text or "")
    assert "1 photo or video" in (card.text or "")
    assert "photo" in [m.kind for m in tg.messages(STAFF_CHAT)]
    assert "+380" not in staff_texts(tg)
    revealed = str((await oksana.press(number, "s_tel:1"))["text"])
    assert CALLER_PHONE in revealed
    assert "given by the caller on the phone" in revealed

    # Olena hears about it in Telegram and finds it in «My appeals».
    told = texts(olena.new())
    assert f"registered as appeal {number}" in told
    assert "ap:1" in buttons(await olena.press("my"))

    await oksana.press(number, "s_acc:1")
    assert f"Appeal {number}: Accepted" in texts(olena.new())
    await oksana.reply(number, "We will come at noon.")
    await oksana.confirm()
    assert "We will come at noon." in texts(olena.new())
    await oksana.press(number, "s_go:1")
    await oksana.press(number, "s_done:1")
    await oksana.reply_photo(number, caption="Pipe replaced")
    done = olena.new()
    assert "Is the problem fixed?" in texts(done)
    staff_before = len(tg.messages(STAFF_CHAT))
    await olena.press("fx:1")
    await both.settle()
    assert await status_of(both, number) == "closed"
    assert "call them back" not in staff_texts(tg, staff_before)

    assert both.app is not None
    async with both.app.uows() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        assert (appeal.channel, appeal.account_id, appeal.caller_phone) == (
            "phone",
            None,
            CALLER_PHONE,
        )
        assert (appeal.taken_by_id, appeal.taken_by_name) == ("900", "Oksana")
        assert appeal.resident_id is not None
        first = (
            await uow.session.execute(select(AppealEvent).order_by(AppealEvent.id).limit(1))
        ).scalar_one()
        assert (first.actor_kind, first.actor_name, first.to_status, first.at) == (
            "operator",
            "Oksana",
            "new",
            appeal.created_at,
        )


async def test_a_call_without_a_verified_number_waits_for_it_and_staff_call_back(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    phone = "+380931112233"
    number = await take_call(tg, both, operator, phone, "Ivan")
    oksana = Operator(tg, operator, both)

    # No chat to write to: the operator is told, nothing is lost.
    before = len(tg.messages(STAFF_CHAT))
    await oksana.reply(number, "When can we come?")
    assert "has no chat with the bot: nothing was sent" in staff_texts(tg, before)
    await oksana.press(number, "s_acc:1")

    # A Viber user claiming the number gets nothing: a claim proves nothing.
    claimant = ViberResident(viber, viber.user(name="Someone", language="en", phone=phone))
    await viber.open_conversation(claimant.user)
    await claimant.press("/start")
    await claimant.press("share-phone")
    assert "You have no appeals yet." in await claimant.press("my")

    # The caller shares the number in Telegram (verified): the appeal is theirs from now on.
    ivan = Resident(tg, tg.user(5402, first_name="Ivan", language_code="en"))
    await ivan.say("/start")
    registered = texts(await ivan.share_phone(phone))
    assert f"Your appeal made by phone, {number}, is now in «My appeals»." in registered
    assert "ap:1" in buttons(await ivan.press("my"))
    await oksana.press(number, "s_go:1")
    assert f"Appeal {number}: In progress" in texts(ivan.new())
    await oksana.press(number, "s_done:1")
    await oksana.reply_photo(number, caption="Asphalt restored")
    assert "Is the problem fixed?" in texts(ivan.new())
    await ivan.press("fx:1")
    await both.settle()
    assert await status_of(both, number) == "closed"
    assert "Someone" not in texts(ivan.new())
    assert "Appeal not found." in await claimant.say("ap:1")

    # Another caller who never writes to the bot: on «Done» the staff chat is asked to call.
    other = await take_call(tg, both, operator, "+380939998877", "Maria")
    await oksana.press(other, "s_acc:2")
    await oksana.press(other, "s_go:2")
    before = len(tg.messages(STAFF_CHAT))
    await oksana.press(other, "s_done:2")
    await oksana.reply_photo(other, caption="Street light replaced")
    assert await status_of(both, other) == "done"
    called_back = staff_texts(tg, before)
    assert f"☎️ {other} came by phone and its caller has no chat with the bot" in called_back
    assert "«Done»" in called_back
    assert "+380" not in called_back


async def test_only_operators_take_calls_and_only_from_the_staff_chat(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    stranger = tg.user(5501, first_name="Stranger", language_code="en")
    # In a private chat /call is no command: a resident cannot file as an operator.
    resident = Resident(tg, stranger)
    await resident.register()
    assert "Unknown command" in texts(await resident.say("/call +380501234567"))

    oksana = tg.user(operator.id, first_name="Oksana", language_code="en")
    before = len(tg.messages(STAFF_CHAT))
    await tg.send_text(oksana, "/call 12", chat=tg.chat(STAFF_CHAT))
    await both.settle()
    assert "Usage: /call +380501234567" in staff_texts(tg, before)
    assert tg.messages(oksana.id) == []
    assert both.app is not None
    async with both.app.uows() as uow:
        assert (await uow.session.execute(select(Appeal))).first() is None


async def test_a_call_waits_for_the_update_in_hand_in_the_operators_private_chat(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    """/call writes the dialog state of the operator's private chat: it takes that chat's
    lock as the chat's own updates do, so neither writes over the other."""
    assert both.app is not None
    oksana = tg.user(operator.id, first_name="Oksana", language_code="en")
    private = StorageKey(bot_id=both.app.bot.id, chat_id=oksana.id, user_id=oksana.id)
    isolation = both.app.dispatcher.fsm.events_isolation
    async with isolation.lock(key=private):  # an update of the private chat in hand
        call = asyncio.create_task(
            tg.send_text(oksana, f"/call {CALLER_PHONE}", chat=tg.chat(STAFF_CHAT))
        )
        await asyncio.sleep(0.5)
        assert not call.done()  # the /call waits for it
    await asyncio.wait_for(call, 10)
    await both.settle()
    started = texts(tg.messages(oksana.id))
    assert f"Phone appeal for the caller at {CALLER_PHONE}" in started


async def test_an_operator_links_a_call_to_a_viber_resident_after_calling_back(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    """Viber cannot verify a number, so a Viber resident's phone appeals would wait forever:
    the operator calls the number back, confirms, and links them (recorded)."""
    phone = "+380661112233"
    petro = ViberResident(viber, viber.user(name="Petro", language="en", phone=phone))
    filed = await test_viber.file_through_viber(viber, petro)
    viber_number = next(w for w in filed.split() if w.startswith("1580-"))
    call_number = await take_call(tg, both, operator, phone, "Petro")
    await petro.press("my")
    assert [b[2] for b in viber.last_message(petro.user).buttons() if b[2].startswith("ap:")] == [
        "ap:1"
    ]

    oksana = tg.user(operator.id, first_name="Oksana", language_code="en")
    before = len(tg.messages(STAFF_CHAT))
    await tg.send_text(oksana, f"/link {call_number} {viber_number}", chat=tg.chat(STAFF_CHAT))
    await both.settle()
    assert f"Linked by Oksana: appeals {call_number} and {viber_number}" in staff_texts(tg, before)
    assert f"linked appeals {call_number} and {viber_number} as yours" in petro.new()
    await petro.press("menu:keep")
    await petro.press("my")
    mine = {b[2] for b in viber.last_message(petro.user).buttons() if b[2].startswith("ap:")}
    assert mine == {"ap:1", "ap:2"}
    await Operator(tg, operator, both).press(call_number, "s_acc:2")
    assert f"Appeal {call_number}: Accepted" in petro.new()

    # Asked again: nothing more to do.
    before = len(tg.messages(STAFF_CHAT))
    await tg.send_text(oksana, f"/link {viber_number} {call_number}", chat=tg.chat(STAFF_CHAT))
    await both.settle()
    assert "already belong to one resident" in staff_texts(tg, before)

    assert both.app is not None
    async with both.app.uows() as uow:
        recorded = (
            await uow.session.execute(
                select(AccountEvent.kind, AccountEvent.actor_kind, AccountEvent.actor_name).where(
                    AccountEvent.kind == "operator_linked"
                )
            )
        ).all()
        history = (
            await uow.session.execute(
                select(AppealEvent.appeal_id, AppealEvent.actor_name).where(
                    AppealEvent.kind == "link"
                )
            )
        ).all()
    assert [tuple(r) for r in recorded] == [("operator_linked", "operator", "Oksana")]
    assert sorted(tuple(r) for r in history) == [(1, "Oksana"), (2, "Oksana")]
