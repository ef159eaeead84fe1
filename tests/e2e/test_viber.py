"""Viber residents: signed callbacks to the real webhook, replies to the stand-in Viber API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from domain.actions import Action
from standins.telegram import FakeUser, TelegramStandIn
from standins.viber import ViberStandIn
from storage.models import Appeal, AppealEvent, AppealMedia, ChannelAccount, OutboxMessage
from tests.asyncpg_trips import round_trips, starting
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, ViberResident

LUTSK = (50.7472, 25.3254)
VIBER_TOKEN = "stand-in-viber-token"


@pytest.fixture
async def viber() -> AsyncIterator[ViberStandIn]:
    async with ViberStandIn(VIBER_TOKEN) as server:
        yield server


@pytest.fixture
def viber_settings(e2e_settings: Settings, viber: ViberStandIn, tmp_path: Path) -> Settings:
    return e2e_settings.model_copy(
        update={
            "viber_auth_token": SecretStr(VIBER_TOKEN),
            "viber_api_url": viber.base_url,
            "media_dir": tmp_path / "media",
            "media_max_bytes": 100_000,
            "viber_media_hosts": (viber.base_url,),
            "staff_chat_id": STAFF_CHAT,
            "default_locale": "en",
        }
    )


@pytest.fixture
def operator(tg: TelegramStandIn) -> FakeUser:
    user = tg.user(900, first_name="Oksana")
    tg.group(STAFF_CHAT, title="15-80 operators", members=[user.id])
    return user


@pytest.fixture
async def both(
    viber_settings: Settings, clock: FakeClock, operator: FakeUser
) -> AsyncIterator[RunningBot]:
    running = RunningBot(viber_settings, clock)
    await running.start()
    yield running
    await running.stop()


async def file_through_viber(viber: ViberStandIn, olena: ViberResident) -> str:
    opened = await viber.open_conversation(olena.user)
    assert opened.welcome is not None
    assert [b[2] for b in opened.welcome.buttons()] == ["/start"]
    asked = await olena.press("/start")
    assert "share your phone number" in asked
    assert viber.last_message(olena.user).buttons()[0][1] == "share-phone"
    assert "+380" in await olena.press("share-phone")
    await olena.press("new")
    await olena.press("cat:roads")
    await olena.press("sub:pothole")
    assert any(b[1] == "location-picker" for b in viber.last_message(olena.user).buttons())
    await olena.send_location(*LUTSK)
    photo = viber.media("pothole.jpg", b"\xff\xd8" + b"jpeg" * 500)
    await viber.send_picture(olena.user, media=photo)
    assert "1 file received" in olena.new()
    await olena.press("mdone")
    review = await olena.say("A deep pothole by the bus stop, cars swerve into the next lane.")
    assert "Roads and pavements → Pothole" in review
    return await olena.press("submit")


async def filed_number(viber: ViberStandIn, olena: ViberResident) -> str:
    """File through Viber as `file_through_viber` does; the appeal's number."""
    said = await file_through_viber(viber, olena)
    return next(word for word in said.split() if word.startswith("1580-"))


async def test_viber_resident_files_an_appeal(
    viber: ViberStandIn, both: RunningBot, viber_settings: Settings
) -> None:
    olena = ViberResident(viber, viber.user(name="Olena", language="en"))
    done = await file_through_viber(viber, olena)
    assert "1580-2026-000001" in done
    assert both.app is not None
    async with both.app.uows() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        media = (await uow.session.execute(select(AppealMedia))).scalars().all()
        assert (appeal.latitude, appeal.longitude) == LUTSK
        assert [m.channel for m in media] == ["viber"]
        stored = both.app.media.path(media[0].file_ref)
        # Viber's link expires: the bot keeps the bytes.
        assert stored.read_bytes() == b"\xff\xd8" + b"jpeg" * 500
    # Buttons carry stable action ids, kept out of the conversation, never translated labels.
    sent = [c.payload for c in viber.calls_of("send_message") if c.payload is not None]
    assert sent
    assert all(payload["sender"]["name"] == "15-80" for payload in sent)
    buttons = [b for payload in sent for b in (payload.get("keyboard") or {}).get("Buttons", [])]
    assert buttons
    assert all(b["Silent"] is True for b in buttons)
    replies = [b["ActionBody"] for b in buttons if b["ActionType"] == "reply"]
    assert "cat:roads" in replies
    assert all(Action.parse(body) is not None for body in replies)


async def test_one_scenario_through_both_channels_stores_the_same_appeal(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot
) -> None:
    await file_through_viber(viber, ViberResident(viber, viber.user(language="en")))
    taras = Resident(tg, tg.user(5201, language_code="en"))
    await taras.register()
    await taras.press("new")
    await taras.press("cat:roads")
    await taras.press("sub:pothole")
    await taras.send_location(*LUTSK)
    await taras.send_photo()
    await taras.press("mdone")
    await taras.say("A deep pothole by the bus stop, cars swerve into the next lane.")
    await taras.press("submit")
    assert both.app is not None
    async with both.app.uows() as uow:
        appeals = (await uow.session.execute(select(Appeal).order_by(Appeal.id))).scalars().all()
        shapes = [
            (a.category_id, a.latitude, a.longitude, a.address, a.description, a.status)
            for a in appeals
        ]
        assert len(shapes) == 2
        assert shapes[0] == shapes[1]
        counts = [
            len(
                (
                    await uow.session.execute(
                        select(AppealMedia).where(AppealMedia.appeal_id == a.id)
                    )
                )
                .scalars()
                .all()
            )
            for a in appeals
        ]
        assert counts == [1, 1]
        events = (await uow.session.execute(select(AppealEvent.to_status))).scalars().all()
        assert events == ["new", "new"]


async def test_status_changes_reach_viber_with_photos_by_url(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = ViberResident(viber, viber.user(language="en"))
    number = await filed_number(viber, olena)
    await both.settle()
    # The staff card is the Viber photo, uploaded from the bot's media folder, with the card
    # as its caption.
    assert [m.kind for m in tg.messages(STAFF_CHAT)] == ["photo"]
    oksana = Operator(tg, operator, both)
    await oksana.press(number, "s_acc:1")
    assert f"Appeal {number}: Accepted" in olena.new()
    await oksana.press(number, "s_go:1")
    await oksana.press(number, "s_done:1")
    await oksana.reply_photo(number, caption="Patched")
    done = viber.messages(olena.user)[-3:]
    assert [m.type for m in done] == ["picture", "picture", "text"]
    assert [b[2] for b in done[-1].buttons()] == ["fx:1", "nf:1"]
    async with aiohttp.ClientSession() as http:
        for picture in done[:2]:
            async with http.get(str(picture.media)) as response:
                assert response.status == 200
                assert len(await response.read()) > 0
    olena.new()
    await olena.press("nf:1")
    reopened = await olena.say("The hole is still there, only covered with sand.")
    assert "reopened" in reopened
    await both.settle()
    assert "NOT fixed" in "\n".join(m.text or "" for m in tg.messages(STAFF_CHAT))


async def test_bad_or_missing_signature_is_refused(viber: ViberStandIn, both: RunningBot) -> None:
    olena = viber.user(language="en")
    event = {
        "event": "message",
        "timestamp": 1764400000000,
        "message_token": 5555000001,
        "sender": {"id": olena.id, "name": "Olena", "language": "en", "api_version": 10},
        "message": {"type": "text", "text": "/start"},
    }
    assert (await viber.deliver(event, signature="0" * 64)).status == 403
    assert (await viber.deliver(event, signature=None)).status == 403
    tampered = json.dumps({**event, "message_token": 5555000009}).encode()
    signed_other = viber.sign(json.dumps(event).encode())
    assert (await viber.deliver(event, raw_body=tampered, signature=signed_other)).status == 403
    assert viber.messages(olena) == []
    assert both.app is not None
    async with both.app.uows() as uow:
        assert (await uow.session.execute(select(ChannelAccount))).first() is None
    # The same resident writing for real is answered.
    assert (await viber.send_text(olena, "/start")).status == 200
    assert viber.messages(olena) != []


async def test_duplicate_callback_is_handled_once(viber: ViberStandIn, both: RunningBot) -> None:
    olena = viber.user(language="en")
    first = await viber.send_text(olena, "/start")
    count = len(viber.messages(olena))
    again = await viber.deliver(first.event)
    assert again.status == 200
    assert len(viber.messages(olena)) == count


async def test_unknown_events_and_message_types_get_200(
    viber: ViberStandIn, both: RunningBot
) -> None:
    olena = viber.user(language="en")
    # An event type this bot never asked for is still answered 200 (posted directly: the
    # stand-in, like Viber, only sends the types set_webhook asked for).
    body = json.dumps({"event": "client_status", "timestamp": 1, "message_token": 77}).encode()
    assert viber.webhook_url is not None
    async with aiohttp.ClientSession() as http:
        headers = {"X-Viber-Content-Signature": viber.sign(body)}
        async with http.post(viber.webhook_url, data=body, headers=headers) as response:
            assert response.status == 200
    gif = {
        "event": "message",
        "timestamp": 1764400000000,
        "message_token": 5555000002,
        "sender": {"id": olena.id, "name": "Olena", "api_version": 10},
        "message": {"type": "gif", "media": "https://example.invalid/x.gif"},
    }
    assert (await viber.deliver(gif)).status == 200
    delivered = await viber.deliver(
        {"event": "delivered", "timestamp": 1, "message_token": 78, "user_id": olena.id}
    )
    assert delivered.status == 200


async def test_unsubscribed_resident_gets_nothing(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = ViberResident(viber, viber.user(language="en"))
    number = await filed_number(viber, olena)
    await both.settle()
    sent_before = len(viber.calls_of("send_message"))
    assert (await viber.unsubscribe(olena.user)).status == 200
    await Operator(tg, operator, both).press(number, "s_acc:1")
    assert len(viber.calls_of("send_message")) == sent_before
    assert both.app is not None
    async with both.app.uows() as uow:
        failed = (
            (
                await uow.session.execute(
                    select(OutboxMessage.last_error).where(OutboxMessage.status == "failed")
                )
            )
            .scalars()
            .all()
        )
        assert failed == ["the resident unsubscribed from the bot"]


async def test_a_resident_who_writes_after_unsubscribing_gets_pushes_again(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = ViberResident(viber, viber.user(language="en"))
    number = await filed_number(viber, olena)
    await both.settle()
    assert (await viber.unsubscribe(olena.user)).status == 200
    assert not await _subscribed(both, olena.user.id)
    olena.catch_up()
    assert await olena.say("/start") != ""  # answered: the menu
    assert await _subscribed(both, olena.user.id)  # writing to the bot subscribes again
    sent_before = len(viber.calls_of("send_message"))
    await Operator(tg, operator, both).press(number, "s_acc:1")
    await both.settle()
    assert len(viber.calls_of("send_message")) == sent_before + 1  # the push about «Accept»


async def _subscribed(running: RunningBot, user_id: str) -> bool:
    assert running.app is not None
    async with running.app.uows() as uow:
        subscribed = await uow.session.scalar(
            select(ChannelAccount.subscribed).where(ChannelAccount.external_id == user_id)
        )
    return bool(subscribed)


@pytest.mark.postgres_only
async def test_a_subscribed_residents_message_does_not_write_the_account(
    viber: ViberStandIn, both: RunningBot
) -> None:
    olena = ViberResident(viber, viber.user(language="en"))
    await olena.register()
    with round_trips() as seen:
        await olena.press("new")
    written = starting(seen, "UPDATE CHANNEL")
    assert written == []  # subscribed already: nothing to write, the step commits alone
    # The redelivery check runs alone: the ORM's read began a transaction for it (BEGIN,
    # SELECT, ROLLBACK). Found by its text, since the sender's reads may come in between.
    check = seen.index(starting(seen, "SELECT PROCESSED_UPDATES.UPDATE_ID")[0])
    assert check == 0 or seen[check - 1] != "BEGIN"


async def test_media_that_fails_or_is_too_big_is_explained(
    viber: ViberStandIn, both: RunningBot
) -> None:
    olena = ViberResident(viber, viber.user(language="en"))
    await olena.register()
    await olena.press("new")
    await olena.press("cat:emergency")
    await olena.press("urgo")
    await olena.send_location(*LUTSK)
    gone = viber.media("gone.jpg", b"", status=404)
    await viber.send_picture(olena.user, media=gone)
    assert "could not be received" in olena.new()
    huge = viber.media("huge.jpg", b"x" * 200_000)
    await viber.send_picture(olena.user, media=huge)
    assert "too big" in olena.new()
    ok = viber.media("ok.jpg", b"fine")
    await viber.send_picture(olena.user, media=ok)
    assert "1 file received" in olena.new()
    assert both.app is not None
    assert len(list(both.app.media.root.iterdir())) == 1
