"""The sandbox as `make run` starts it without tokens, served on a free port, and Debian's
Chromium driven by Playwright (its own browser download is not used)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.config import Settings
from sandbox.web import create_page
from sandbox.world import Sandbox
from standins.ports import free_port

CHROMIUM = os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google from a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    url: str


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    port = free_port()
    settings = Settings(_env_file=None, web_host="127.0.0.1", web_port=port)
    world = Sandbox(settings, tmp_path / "sandbox")
    await world.start()
    runner = web.AppRunner(create_page(world), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield RunningSandbox(world, f"http://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()
        await world.stop()


def chromium_path() -> str:
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        message = (
            f"Chromium is not at {CHROMIUM}: `apt-get install -y chromium` (make test does it "
            "where it can); the browser tests cannot run"
        )
        pytest.fail(message)
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, sandbox: RunningSandbox) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1500, "height": 900})
    opened = await context.new_page()
    # Generous waits: the machine may be busy; a wait ends as soon as its condition holds.
    opened.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)
    # The page asks before sharing a phone and before a reset, as Telegram does.
    opened.on("dialog", lambda dialog: dialog.accept())
    await opened.goto(sandbox.url)
    await opened.wait_for_selector("body[data-generation]")
    try:
        yield opened
    finally:
        await context.close()
