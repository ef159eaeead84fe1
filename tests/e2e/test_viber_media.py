"""Viber media: fetched only at the steps that take media, only from Viber's media hosts,
never through a redirect, a bounded number at a time, streamed to disk."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from pydantic import SecretStr

from bot.config import Settings
from bot.media import MediaSources, MediaStore, MediaUnavailableError
from bot.public_resolver import is_public
from standins.viber import ViberStandIn, ViberUser
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.test_viber import LUTSK, VIBER_TOKEN


class MediaHost:
    """A web server standing for a media host: it counts requests and parallel downloads;
    `/redirect` points elsewhere."""

    def __init__(self, redirect_to: str = "") -> None:
        self.requests: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.release = asyncio.Event()
        self._redirect_to = redirect_to
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        if request.path == "/redirect":
            raise web.HTTPFound(self._redirect_to)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        return web.Response(body=b"\xff\xd8" + b"jpeg" * 100, content_type="image/jpeg")

    async def __aenter__(self) -> MediaHost:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def viber() -> AsyncIterator[ViberStandIn]:
    async with ViberStandIn(VIBER_TOKEN) as server:
        yield server


@pytest.fixture
async def internal() -> AsyncIterator[MediaHost]:
    async with MediaHost() as host:
        host.release.set()
        yield host


@pytest.fixture
async def allowed(internal: MediaHost) -> AsyncIterator[MediaHost]:
    async with MediaHost(redirect_to=internal.url + "/secret") as host:
        yield host


@pytest.fixture
async def bot(
    e2e_settings: Settings,
    viber: ViberStandIn,
    allowed: MediaHost,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[RunningBot]:
    settings = e2e_settings.model_copy(
        update={
            "viber_auth_token": SecretStr(VIBER_TOKEN),
            "viber_api_url": viber.base_url,
            "media_dir": tmp_path / "media",
            "viber_media_hosts": (viber.base_url, allowed.url),
            "media_parallel_downloads": 2,
            "default_locale": "en",
        }
    )
    running = RunningBot(settings, clock)
    await running.start()
    yield running
    await running.stop()


async def at_media_step(viber: ViberStandIn, user: ViberUser) -> None:
    await viber.open_conversation(user)
    for body in ("/start", "share-phone", "new", "cat:roads", "sub:pothole"):
        assert (await viber.press(user, body)).status == 200
    await viber.send_location(user, *LUTSK)


async def send_picture_from(viber: ViberStandIn, user: ViberUser, url: str) -> int | None:
    message = {"type": "picture", "text": "", "media": url, "thumbnail": url}
    delivery = await viber.send_message(user, message)
    return delivery.status


def stored(bot: RunningBot) -> list[Path]:
    assert bot.app is not None
    root = bot.app.media.root
    return sorted(root.iterdir()) if root.exists() else []


async def test_pictures_outside_the_media_step_are_never_downloaded(
    viber: ViberStandIn, bot: RunningBot, allowed: MediaHost
) -> None:
    allowed.release.set()
    stranger = viber.user(name="Stranger", language="en")
    await viber.subscribe(stranger)
    for n in range(5):
        assert await send_picture_from(viber, stranger, f"{allowed.url}/p{n}.jpg") == 200
    assert allowed.requests == []
    assert stored(bot) == []
    assert "share your phone" in (viber.last_message(stranger).text or "")


async def test_only_viber_hosts_and_no_redirects(
    viber: ViberStandIn, bot: RunningBot, allowed: MediaHost, internal: MediaHost
) -> None:
    olena = viber.user(name="Olena", language="en")
    await at_media_step(viber, olena)
    assert await send_picture_from(viber, olena, f"{internal.url}/secret") == 200
    assert await send_picture_from(viber, olena, f"{allowed.url}/redirect") == 200
    assert await send_picture_from(viber, olena, "https://dl-media.viber.com.evil.example/x") == 200
    assert internal.requests == []  # neither named directly nor reached through the redirect
    assert allowed.requests == ["/redirect"]
    assert stored(bot) == []
    told = [m.text or "" for m in viber.messages(olena)]
    assert sum("could not be received" in text for text in told) == 3


async def test_downloads_are_bounded_and_streamed_to_disk(
    viber: ViberStandIn, bot: RunningBot, allowed: MediaHost
) -> None:
    residents = [viber.user(name=f"R{n}", language="en") for n in range(5)]
    await asyncio.gather(*(at_media_step(viber, r) for r in residents))
    sending = [
        asyncio.create_task(send_picture_from(viber, r, f"{allowed.url}/{n}.jpg"))
        for n, r in enumerate(residents)
    ]
    async with asyncio.timeout(10):
        while len(allowed.requests) < 2:  # noqa: ASYNC110 - the host has no signal for it
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # room for a third download to start if the bound were broken
    assert allowed.running == 2
    allowed.release.set()
    assert await asyncio.gather(*sending) == [200] * 5
    assert allowed.most_at_once == 2
    files = stored(bot)
    assert len(files) == 5
    assert not any(f.name.endswith(".part") for f in files)


async def test_media_no_appeal_uses_is_removed_when_old(
    viber: ViberStandIn, bot: RunningBot, allowed: MediaHost
) -> None:
    allowed.release.set()
    olena = viber.user(name="Olena", language="en")
    await at_media_step(viber, olena)
    await send_picture_from(viber, olena, f"{allowed.url}/kept.jpg")
    await viber.press(olena, "mdone")
    await viber.send_text(olena, "A deep pothole by the bus stop, cars swerve into the lane.")
    await viber.press(olena, "submit")
    assert bot.app is not None
    [used] = stored(bot)
    abandoned = bot.app.media.root / "abandoned.jpg"
    recent = bot.app.media.root / "recent.jpg"
    abandoned.write_bytes(b"x")
    recent.write_bytes(b"y")
    three_days_ago = time.time() - 3 * 24 * 3600
    for path in (used, abandoned):
        os.utime(path, (three_days_ago, three_days_ago))
    result = await bot.app.maintenance.tick()
    assert result.media_removed == 1
    assert sorted(stored(bot)) == sorted([used, recent])


def files_in(root: Path) -> list[Path]:
    return list(root.iterdir())


class StubResolver(AbstractResolver):
    """DNS as the test wants it: host name -> addresses; every lookup is recorded."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.answers[host]
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["192.168.0.7"],
        ["169.254.169.254"],  # a cloud's metadata service
        ["::1"],
        ["fe80::1"],
        ["::ffff:127.0.0.1"],
        ["93.184.215.14", "127.0.0.1"],  # one inward answer is enough to refuse
    ],
)
async def test_a_media_host_resolving_to_a_private_address_is_never_connected(
    internal: MediaHost, tmp_path: Path, addresses: list[str]
) -> None:
    port = int(internal.url.rsplit(":", 1)[1])
    # The allow-list names the host; only its resolution points inward, at a live server.
    resolver = StubResolver({"media.viber.test": addresses})
    store = MediaStore(
        tmp_path,
        1_000_000,
        None,
        sources=MediaSources((f"http://media.viber.test:{port}",)),
        resolver=resolver,
    )
    try:
        with pytest.raises(MediaUnavailableError, match="non-public address"):
            await store.download(
                f"http://media.viber.test:{port}/secret", fallback_extension=".jpg"
            )
    finally:
        await store.close()
    assert resolver.asked == ["media.viber.test"]
    assert internal.requests == []
    assert files_in(tmp_path) == []


async def test_a_host_resolving_to_public_addresses_is_fetched_from_them(
    allowed: MediaHost, tmp_path: Path
) -> None:
    """The control: the resolver's answer is what the connection uses. The stub maps the
    name to the local server, and the check is told loopback is public for this once."""
    allowed.release.set()
    port = int(allowed.url.rsplit(":", 1)[1])
    resolver = StubResolver({"media.viber.test": ["127.0.0.1"]})
    store = MediaStore(
        tmp_path,
        1_000_000,
        None,
        sources=MediaSources((f"http://media.viber.test:{port}",)),
        resolver=resolver,
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("bot.public_resolver.is_public", lambda address: True)
            ref = await store.download(
                f"http://media.viber.test:{port}/p.jpg", fallback_extension=".jpg"
            )
    finally:
        await store.close()
    assert allowed.requests == ["/p.jpg"]
    assert store.path(ref).read_bytes().startswith(b"\xff\xd8")


def test_public_addresses_are_told_from_inward_ones() -> None:
    assert is_public("93.184.215.14")
    assert is_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    for inward in ("127.0.0.1", "10.0.0.1", "172.16.5.4", "100.64.0.1", "0.0.0.0", "::", "fc00::1"):
        assert not is_public(inward), inward
