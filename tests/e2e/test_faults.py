"""Nothing lost when Redis or PostgreSQL goes away: the webhook answers 5xx, Telegram delivers
the update again, and it is then handled exactly once. Header and body checks answer 4xx."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.config import Settings
from standins.telegram import TelegramStandIn
from standins.viber import ViberStandIn
from storage.models import ChannelAccount
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import Resident, texts
from tests.faults import RedisServer, TcpProxy

VIBER_TOKEN = "stand-in-viber-token"

PHONE = "+380671112233"


async def phones(running: RunningBot) -> int:
    assert running.app is not None
    async with running.app.uows() as uow:
        query = (
            select(func.count()).select_from(ChannelAccount).where(ChannelAccount.phone == PHONE)
        )
        return int((await uow.session.execute(query)).scalar_one())


def saw_phone_reply(tg: TelegramStandIn, chat_id: int) -> int:
    return sum(1 for m in tg.messages(chat_id) if PHONE in (m.text or ""))


async def lost_and_redelivered(
    tg: TelegramStandIn,
    running: RunningBot,
    caplog: pytest.LogCaptureFixture,
    fail: object,
    heal: object,
) -> None:
    """Register a resident while the fault is on, then again once it is healed."""
    olena = Resident(tg, tg.user(8101, language_code="en"))
    assert "share your phone" in texts(await olena.say("/start")).lower()
    await fail()  # type: ignore[operator]
    with caplog.at_level(logging.INFO):
        first = await tg.send_contact(olena.user, PHONE)
    assert first.status is not None and first.status >= 500
    assert saw_phone_reply(tg, olena.chat_id) == 0
    assert not any("went wrong" in (m.text or "") for m in tg.messages(olena.chat_id))
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert str(first.update_id) in logged
    assert PHONE not in logged and PHONE.lstrip("+") not in logged
    await heal()  # type: ignore[operator]

    again = await tg.deliver(first.update)  # Telegram's redelivery
    assert again.status == 200
    assert await phones(running) == 1
    assert saw_phone_reply(tg, olena.chat_id) == 1
    once_more = await tg.deliver(first.update)
    assert once_more.status == 200
    assert await phones(running) == 1
    assert saw_phone_reply(tg, olena.chat_id) == 1


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_redis_stopped_mid_run_loses_nothing(
    tg: TelegramStandIn,
    e2e_settings: Settings,
    clock: FakeClock,
    own_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = e2e_settings.model_copy(
        update={"redis_url": own_redis.url, "redis_prefix": "faults"}
    )
    running = RunningBot(settings, clock)
    await running.start()

    async def fail() -> None:
        own_redis.stop()

    async def heal() -> None:
        own_redis.start()

    try:
        await lost_and_redelivered(tg, running, caplog, fail, heal)
    finally:
        await running.stop()


@pytest.mark.postgres_only  # the proxy stands before PostgreSQL
async def test_postgres_refusing_connections_loses_nothing(
    tg: TelegramStandIn,
    e2e_settings: Settings,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = make_url(e2e_settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    running = RunningBot(e2e_settings.model_copy(update={"database_url": proxied}), clock)
    await running.start()
    try:
        await lost_and_redelivered(tg, running, caplog, proxy.cut, proxy.restore)
    finally:
        await running.stop()
        await proxy.close()


async def raw_post(port: int, path: str, header: bytes, value: bytes, body: bytes) -> int:
    """POST with one header as raw bytes (clients refuse to send non-ASCII headers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n" + header + b": " + value + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_telegram_webhook_checks_answer_4xx_not_5xx(running: RunningBot) -> None:
    settings = running.settings
    secret = settings.webhook_secret.get_secret_value().encode() if settings.webhook_secret else b""

    async def post(value: bytes, body: bytes) -> int:
        header = b"X-Telegram-Bot-Api-Secret-Token"
        return await raw_post(settings.web_port, settings.webhook_path, header, value, body)

    chat = {"id": 5, "type": "private"}
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": chat, "text": "hi"}}
    body = json.dumps(update).encode()
    assert await post("сікрет".encode(), body) == 401
    assert await post(b"wrong", body) == 401
    assert await post(secret, b"{not json") == 400
    assert await post(secret, b"\xff\xfe") == 400
    assert await post(secret, b"[1, 2]") == 400
    assert await post(secret, b'{"update_id": "many"}') == 400
    assert await post(secret, body) == 200


async def test_viber_webhook_checks_answer_4xx_not_5xx(
    e2e_settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with ViberStandIn(VIBER_TOKEN) as viber:
        settings = e2e_settings.model_copy(
            update={"viber_auth_token": SecretStr(VIBER_TOKEN), "viber_api_url": viber.base_url}
        )
        running = RunningBot(settings, clock)
        await running.start()
        try:

            async def post(value: bytes, body: bytes) -> int:
                header = b"X-Viber-Content-Signature"
                path = settings.viber_webhook_path
                return await raw_post(settings.web_port, path, header, value, body)

            secret_body = b'{"event": "message", "sender": {"name": "Olena +380671112233"'
            assert await post("підпис".encode(), b"{}") == 403
            assert await post(b"0" * 64, b"{}") == 403
            with caplog.at_level(logging.DEBUG):
                assert await post(viber.sign(secret_body).encode(), secret_body) == 400
                assert await post(viber.sign(b"[]").encode(), b"[]") == 400
                odd = b'{"event": "message", "message_token": 5, "phone": "+380671112233"}'
                assert await post(viber.sign(odd).encode(), odd) == 200
            logged = "\n".join(r.getMessage() for r in caplog.records)
            assert "380671112233" not in logged
        finally:
            await running.stop()


async def test_viber_callback_during_a_redis_outage_is_delivered_again_and_handled_once(
    e2e_settings: Settings, clock: FakeClock, own_redis: RedisServer
) -> None:
    async with ViberStandIn(VIBER_TOKEN) as viber:
        settings = e2e_settings.model_copy(
            update={
                "redis_url": own_redis.url,
                "redis_prefix": "faults-viber",
                "viber_auth_token": SecretStr(VIBER_TOKEN),
                "viber_api_url": viber.base_url,
                "default_locale": "en",
            }
        )
        running = RunningBot(settings, clock)
        await running.start()
        try:
            olena = viber.user(name="Olena", language="en")
            await viber.open_conversation(olena)
            assert (await viber.press(olena, "/start")).status == 200
            own_redis.stop()
            first = await viber.press(olena, "share-phone")
            assert first.status == 503  # Viber delivers it again
            own_redis.start()
            again = await viber.deliver(first.event)
            assert again.status == 200
            assert (await viber.deliver(first.event)).status == 200
            registered = [m for m in viber.messages(olena) if "+380" in (m.text or "")]
            assert len(registered) == 1
        finally:
            await running.stop()
