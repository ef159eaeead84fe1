"""Viber media bigger than Telegram takes from a bot (10 MB through sendPhoto, 50 MB for any
upload): the staff card still goes out, the photo as a document, the file too big for any
upload named on the card. The Telegram stand-in refuses uploads over those limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from standins.telegram import FakeUser, TelegramStandIn
from standins.viber import MediaFile, ViberStandIn
from storage.models import OutboxMessage
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, ViberResident
from tests.e2e.test_viber import LUTSK, VIBER_TOKEN

MB = 1_000_000


@pytest.fixture
async def viber() -> AsyncIterator[ViberStandIn]:
    async with ViberStandIn(VIBER_TOKEN) as server:
        yield server


@pytest.fixture
def operator(tg: TelegramStandIn) -> FakeUser:
    user = tg.user(900, first_name="Oksana")
    tg.group(STAFF_CHAT, title="15-80 operators", members=[user.id])
    return user


@pytest.fixture
async def both(
    e2e_settings: Settings,
    viber: ViberStandIn,
    clock: FakeClock,
    tmp_path: Path,
    operator: FakeUser,
) -> AsyncIterator[RunningBot]:
    settings = e2e_settings.model_copy(
        update={
            "viber_auth_token": SecretStr(VIBER_TOKEN),
            "viber_api_url": viber.base_url,
            "media_dir": tmp_path / "media",
            "media_max_bytes": 60 * MB,
            "viber_media_hosts": (viber.base_url,),
            "staff_chat_id": STAFF_CHAT,
            "default_locale": "en",
        }
    )
    running = RunningBot(settings, clock)
    await running.start()
    yield running
    await running.stop()


def picture(viber: ViberStandIn, name: str, size: int) -> MediaFile:
    return viber.media(name, b"\xff\xd8" + bytes(size - 2))


async def file_with(viber: ViberStandIn, olena: ViberResident, *media: MediaFile) -> str:
    """File an appeal through Viber with these files (pictures, or a video by its .mp4 name)."""
    await viber.open_conversation(olena.user)
    await olena.press("/start")
    await olena.press("share-phone")
    for body in ("new", "cat:roads", "sub:pothole"):
        await olena.press(body)
    await viber.send_location(olena.user, *LUTSK)
    for file in media:
        if file.name.endswith(".mp4"):
            assert (await viber.send_video(olena.user, media=file)).status == 200
        else:
            assert (await viber.send_picture(olena.user, media=file)).status == 200
    assert f"{len(media)} file" in olena.new()
    await olena.press("mdone")
    await olena.say("A deep pothole by the bus stop, cars swerve into the next lane.")
    submitted = await olena.press("submit")
    return next(w for w in submitted.split() if w.startswith("1580-"))


async def outbox_failures(both: RunningBot) -> list[str | None]:
    assert both.app is not None
    async with both.app.uows() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.last_error).where(OutboxMessage.status != "sent")
        )
        return list(rows.scalars())


async def test_a_photo_over_10_mb_goes_on_the_card_as_a_document(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = ViberResident(viber, viber.user(name="Olena", language="en"))
    number = await file_with(viber, olena, picture(viber, "huge.jpg", 12 * MB))
    await both.settle()
    [card] = tg.messages(STAFF_CHAT)
    assert card.kind == "document"
    assert isinstance(card.media, dict) and card.media["size"] == 12 * MB
    assert (card.text or "").startswith(f"🆕 {number}")
    assert tg.calls_of("sendPhoto") == []
    assert await outbox_failures(both) == []
    # The document carries the card as its caption, so the card is edited in place.
    oksana = Operator(tg, operator, both)
    await oksana.press(number, "s_acc:1")
    card = oksana.card(number)
    assert card.kind == "document"
    assert "Accepted" in (card.text or "").splitlines()[0]
    assert "too big" not in (card.text or "")


async def test_a_file_over_50_mb_is_not_uploaded_and_the_card_says_so(
    tg: TelegramStandIn, viber: ViberStandIn, both: RunningBot, operator: FakeUser
) -> None:
    olena = ViberResident(viber, viber.user(name="Olena", language="en"))
    small = picture(viber, "pothole.jpg", 48_000)
    video = viber.media(
        "long.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(51 * MB), content_type="video/mp4"
    )
    big = picture(viber, "big.jpg", 11 * MB)
    number = await file_with(viber, olena, small, video, big)
    await both.settle()
    assert await outbox_failures(both) == []
    # The small photo as a photo, the 11 MB one as a document, the video not at all.
    shown = [
        (m.kind, m.media["size"]) for m in tg.messages(STAFF_CHAT) if isinstance(m.media, dict)
    ]
    assert shown == [("photo", 48_000), ("document", 11 * MB)]
    card = tg.messages(STAFF_CHAT)[-1]
    assert card.kind == "text"
    assert (card.text or "").startswith(f"🆕 {number}")
    assert "📎 1 file too big to show here" in (card.text or "")
    oksana = Operator(tg, operator, both)
    await oksana.press(number, "s_acc:1")
    card = oksana.card(number)
    assert "Accepted" in (card.text or "").splitlines()[0]
    assert "📎 1 file too big to show here" in (card.text or "")
