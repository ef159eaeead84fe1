"""One person across Telegram and Viber: accounts are separate until proven the same.

The takeover from issue 9: a Viber user shares a contact card holding a Telegram resident's
number. Before, the accounts were joined by phone and the Viber user read her appeals (with an
operator's message holding the door code), pressed «Fixed» and wrote to the staff chat as her.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from standins.telegram import FakeUser, TelegramStandIn
from standins.viber import ViberStandIn
from storage.models import (
    AccountEvent,
    Appeal,
    AppealEvent,
    ChannelAccount,
    LinkCode,
    Resident,
)
from tests.clock import FakeClock
from tests.e2e import test_viber
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, ViberResident, texts
from tests.e2e.people import Resident as TelegramResident
from tests.e2e.staff import file_appeal, staff_texts
from tests.e2e.test_viber import filed_number

# The Viber tests' fixtures, shared by name (pytest finds fixtures among module attributes).
viber = test_viber.viber
viber_settings = test_viber.viber_settings
operator = test_viber.operator
both = test_viber.both

OLENA_PHONE = "+380501234567"


async def test_a_viber_contact_card_with_someone_elses_number_takes_over_nothing(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = TelegramResident(tg, tg.user(5301, first_name="Olena", language_code="en"))
    number = await file_appeal(olena, both)
    oksana = Operator(tg, operator, both)
    await oksana.reply(number, "We come tomorrow; the door code of your entrance is 4512#.")
    await oksana.confirm()
    assert "4512#" in texts(olena.new())

    # The attacker on Viber forwards a contact card with Olena's number: Viber cannot tell it
    # from the share-phone button, so the number is saved, but only as her claim.
    mallory = ViberResident(viber, viber.user(name="Mallory", language="en"))
    await viber.open_conversation(mallory.user)
    await mallory.press("/start")
    saved = await mallory.share_phone(OLENA_PHONE)
    assert f"Your number {OLENA_PHONE} is saved" in saved
    # She may ask to link, but the code goes to Olena's Telegram chat, not to her.
    assert "This number is confirmed in Telegram" in saved
    await mallory.press("link")
    await both.settle()
    warned = texts(olena.new())
    assert "Someone on Viber asks to link to your account" in warned
    code = _code(tg, olena.chat_id)
    assert code not in "\n".join(m.text or "" for m in viber.messages(mallory.user))
    assert "Wrong code" in await mallory.say("123456")
    await mallory.press("cancel")

    # Nothing of Olena's: not in «My appeals», not by the appeal's id, no «Fixed», no answer.
    assert "You have no appeals yet." in await mallory.press("my")
    assert "Appeal not found." in await mallory.say("ap:1")
    assert "4512#" not in "\n".join(m.text or "" for m in viber.messages(mallory.user))
    staff_before = len(tg.messages(STAFF_CHAT))
    assert "Appeal not found." in await mallory.say("fx:1")
    assert "Appeal not found." in await mallory.say("nf:1")
    assert "Appeal not found." in await mallory.say("rp:1")
    await mallory.say("Cancel the visit, I changed my mind, the door code is wrong.")
    await both.settle()
    assert staff_texts(tg, staff_before) == ""
    assert not [m for m in viber.messages(mallory.user) if "4512#" in (m.text or "")]

    assert both.app is not None
    async with both.app.uows() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        assert appeal.status == "new"
        accounts = {
            a.channel: a for a in (await uow.session.execute(select(ChannelAccount))).scalars()
        }
        assert accounts["telegram"].phone == accounts["viber"].phone == OLENA_PHONE
        assert accounts["telegram"].phone_verified_at is not None
        assert accounts["viber"].phone_verified_at is None
        assert accounts["telegram"].resident_id != accounts["viber"].resident_id
        assert appeal.resident_id == accounts["telegram"].resident_id
        assert (await uow.session.execute(select(func.count(Resident.id)))).scalar_one() == 2
        kinds = (
            (await uow.session.execute(select(AccountEvent.kind).order_by(AccountEvent.id)))
            .scalars()
            .all()
        )
        assert kinds == [
            "phone_verified",
            "phone_claimed",
            "link_code_requested",
            "link_code_sent",
            "link_code_wrong",
        ]
        relays_in = (
            await uow.session.execute(select(AppealEvent).where(AppealEvent.kind == "relay_in"))
        ).all()
        assert relays_in == []


async def test_the_phone_reveal_marks_a_number_only_claimed_on_viber(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    petro = ViberResident(viber, viber.user(name="Petro", language="en", phone="+380661112233"))
    viber_number = await filed_number(viber, petro)
    olena = TelegramResident(tg, tg.user(5302, first_name="Olena", language_code="en"))
    telegram_number = await file_appeal(olena, both)
    await both.settle()
    oksana = Operator(tg, operator, both)

    claimed = str((await oksana.press(viber_number, "s_tel:1"))["text"])
    assert "+380661112233" in claimed
    assert "UNVERIFIED" in claimed
    verified = str((await oksana.press(telegram_number, "s_tel:2"))["text"])
    assert OLENA_PHONE in verified
    assert "UNVERIFIED" not in verified
    # Neither number is on a card or anywhere in the staff chat.
    assert "+380" not in staff_texts(tg)


def _code(tg: TelegramStandIn, chat_id: int) -> str:
    for message in reversed(tg.messages(chat_id)):
        found = re.search(r"Code (\d{6})", message.text or "")
        if found:
            return found.group(1)
    raise AssertionError("no code in the Telegram chat")


async def _claimant(
    tg: TelegramStandIn, viber: ViberStandIn, running: RunningBot
) -> tuple[TelegramResident, str, ViberResident]:
    """Olena filed an appeal on Telegram; her Viber account claims the same number."""
    olena = TelegramResident(tg, tg.user(5311, first_name="Olena", language_code="en"))
    number = await file_appeal(olena, running)
    olena_viber = ViberResident(viber, viber.user(name="Olena V", language="en", phone=OLENA_PHONE))
    await viber.open_conversation(olena_viber.user)
    await olena_viber.press("/start")
    offered = await olena_viber.press("share-phone")
    assert "This number is confirmed in Telegram" in offered
    return olena, number, olena_viber


async def test_linking_with_the_code_from_the_verified_chat_and_unlinking(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot
) -> None:
    olena, number, olena_viber = await _claimant(tg, viber, both)
    # The offer's button is on Viber's latest keyboard.
    asked = await olena_viber.press("link")
    await both.settle()
    assert "We sent a one-time code to your Telegram chat" in asked
    code_message = texts(olena.new())
    assert "Someone on Viber asks to link to your account" in code_message
    code = _code(tg, olena.chat_id)

    wrong = "000000" if code != "000000" else "111111"
    assert "Wrong code. Attempts left: 4." in await olena_viber.say(wrong)
    assert "Linked! Your appeals from Telegram are now shown here too." in await olena_viber.say(
        code
    )
    await both.settle()
    assert "now linked with Viber" in texts(olena.new())
    await olena_viber.press("my")
    assert [
        label
        for label, _type, body in viber.last_message(olena_viber.user).buttons()
        if body == "ap:1"
    ] == [f"{number} · New"]
    # Pushes about the Telegram appeal still go to the account it was filed from.
    assert "Appeal 1580" in await olena_viber.say("ap:1")

    # Unlinking from the Telegram side: the Viber account loses sight of it at once.
    assert "Unlinked" in texts(await olena.say("/unlink"))
    await both.settle()
    assert "no longer linked with Telegram" in olena_viber.new()
    await olena_viber.press("menu:keep")
    assert "You have no appeals yet." in await olena_viber.press("my")
    assert "Appeal not found." in await olena_viber.say("ap:1")

    assert both.app is not None
    async with both.app.uows() as uow:
        kinds = (
            (await uow.session.execute(select(AccountEvent.kind).order_by(AccountEvent.id)))
            .scalars()
            .all()
        )
    assert kinds == [
        "phone_verified",
        "phone_claimed",
        "link_code_requested",
        "link_code_sent",
        "link_code_wrong",
        "link_code_right",
        "linked",
        "linked",
        "unlinked",
        "unlinked",
    ]


async def test_an_expired_code_links_nothing(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, clock: FakeClock
) -> None:
    olena, _number, olena_viber = await _claimant(tg, viber, both)
    await olena_viber.press("link")
    await both.settle()
    code = _code(tg, olena.chat_id)
    clock.advance(minutes=11)
    expired = await olena_viber.say(code)
    assert "The code has expired" in expired
    assert "You have no appeals yet." in await olena_viber.press("my")
    assert both.app is not None
    async with both.app.uows() as uow:
        statuses = (await uow.session.execute(select(LinkCode.status))).scalars().all()
        kinds = (await uow.session.execute(select(AccountEvent.kind))).scalars().all()
    assert statuses == ["expired"]
    assert "link_code_expired" in kinds
    assert "linked" not in kinds


async def test_wrong_codes_are_limited_and_requests_too(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot
) -> None:
    olena, _number, olena_viber = await _claimant(tg, viber, both)
    await olena_viber.press("link")
    await both.settle()
    code = _code(tg, olena.chat_id)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        assert f"Attempts left: {left}." in await olena_viber.say(wrong)
    assert "Too many wrong codes" in await olena_viber.say(wrong)
    # The right code is worth nothing now.
    assert "Linked" not in await olena_viber.say(code)
    assert "You have no appeals yet." in await olena_viber.press("my")

    # Two more codes within the hour, then the requests stop (3 an hour, so the verified
    # resident is not flooded and guessing stays at a handful of tries).
    await olena_viber.say("/link")
    await olena_viber.say("/cancel")
    await olena_viber.say("/link")
    await olena_viber.say("/cancel")
    assert "Too many codes were asked for" in await olena_viber.say("/link")
    await both.settle()
    sent = [m for m in tg.messages(olena.chat_id) if "asks to link" in (m.text or "")]
    assert len(sent) == 3
    assert both.app is not None
    async with both.app.uows() as uow:
        wrong_attempts = (
            await uow.session.execute(
                select(func.count(AccountEvent.id)).where(AccountEvent.kind == "link_code_wrong")
            )
        ).scalar_one()
        statuses = (
            (await uow.session.execute(select(LinkCode.status).order_by(LinkCode.id)))
            .scalars()
            .all()
        )
    assert wrong_attempts == 5
    assert statuses == ["exhausted", "cancelled", "cancelled"]
