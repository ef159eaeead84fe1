"""One person across Telegram and Viber: accounts are separate until proven the same.

The takeover from issue 9: a Viber user shares a contact card holding a Telegram resident's
number. Before, the accounts were joined by phone and the Viber user read her appeals (with an
operator's message holding the door code), pressed «Fixed» and wrote to the staff chat as her.
"""

from __future__ import annotations

from sqlalchemy import func, select

from standins.telegram import FakeUser, TelegramStandIn
from standins.viber import ViberStandIn
from storage.models import AccountEvent, Appeal, AppealEvent, ChannelAccount, Resident
from tests.e2e import test_viber
from tests.e2e.conftest import Resident as TelegramResident
from tests.e2e.conftest import RunningBot, texts
from tests.e2e.test_staff_lifecycle import STAFF_CHAT, Operator, file_appeal, staff_texts
from tests.e2e.test_viber import ViberResident, file_through_viber

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
    assert "4512#" in texts(olena._new())

    # The attacker on Viber forwards a contact card with Olena's number: Viber cannot tell it
    # from the share-phone button, so the number is saved, but only as her claim.
    mallory = ViberResident(viber, viber.user(name="Mallory", language="en"))
    await viber.open_conversation(mallory.user)
    await mallory.press("/start")
    await viber.send_contact(mallory.user, OLENA_PHONE)
    assert f"Your number {OLENA_PHONE} is saved" in mallory.new()

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
        kinds = (await uow.session.execute(select(AccountEvent.kind))).scalars().all()
        assert sorted(kinds) == ["phone_claimed", "phone_verified"]
        relays_in = (
            await uow.session.execute(select(AppealEvent).where(AppealEvent.kind == "relay_in"))
        ).all()
        assert relays_in == []


async def test_the_phone_reveal_marks_a_number_only_claimed_on_viber(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    petro = ViberResident(viber, viber.user(name="Petro", language="en", phone="+380661112233"))
    viber_number = next(
        w for w in (await file_through_viber(viber, petro)).split() if w.startswith("1580-")
    )
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
