"""The sandbox's page and its JSON API: actions in, the world out as server-sent events."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from contextlib import suppress
from pathlib import Path

from aiohttp import ClientSession, web

from bot.config import Settings
from sandbox.samples import BY_NAME, sample_png
from sandbox.view import snapshot
from sandbox.world import ActionError, Sandbox

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox", Sandbox)
KEEPALIVE_SECONDS = 15.0
# Several changes arrive together (a press edits a message and sends two more): one frame.
COALESCE_SECONDS = 0.03


def _content_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/octet-stream"


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _sample(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in BY_NAME:
        raise web.HTTPNotFound()
    return web.Response(body=sample_png(name), content_type="image/png")


async def _state(request: web.Request) -> web.Response:
    return web.json_response(snapshot(request.app[SANDBOX_KEY]))


async def _wait_for_change(sandbox: Sandbox) -> None:
    signals = [sandbox.changed]
    if sandbox.ready:
        signals += [sandbox.tg.changed, sandbox.viber.changed]
    waits = [asyncio.create_task(signal.next_change(KEEPALIVE_SECONDS)) for signal in signals]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def _events(request: web.Request) -> web.StreamResponse:
    """The world, sent again whenever it changed (server-sent events)."""
    sandbox = request.app[SANDBOX_KEY]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    last = ""
    with suppress(ConnectionResetError):  # the page was closed
        while True:
            frame = json.dumps(snapshot(sandbox), ensure_ascii=False)
            if frame != last:
                await response.write(f"data: {frame}\n\n".encode())
                last = frame
            else:
                await response.write(b": still here\n\n")
            await _wait_for_change(sandbox)
            await asyncio.sleep(COALESCE_SECONDS)
    return response


async def _act(request: web.Request) -> web.Response:
    """One person's action (JSON as `Sandbox.perform` takes it); the answer of a press."""
    sandbox = request.app[SANDBOX_KEY]
    try:
        action = await request.json()
    except json.JSONDecodeError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    if not isinstance(action, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    try:
        result = await sandbox.perform(action)
    except KeyError as exc:
        return web.json_response({"error": f"the action needs {exc}"}, status=400)
    except (ActionError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(result)


async def _reset(request: web.Request) -> web.Response:
    await request.app[SANDBOX_KEY].reset()
    return web.json_response({"ok": True})


async def _transcript(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    return web.Response(
        text=sandbox.recorder.dumps(),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="sandbox-transcript.json"'},
    )


async def _telegram_file(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    try:
        data = sandbox.tg.file_content(request.match_info["file_id"])
    except LookupError:
        raise web.HTTPNotFound() from None
    return web.Response(body=data, content_type=_content_type(data))


async def _viber_media(request: web.Request) -> web.Response:
    """Pictures in the Viber pane: residents' come from the Viber stand-in, the bot's from
    its own media folder; nothing else is fetched."""
    sandbox = request.app[SANDBOX_KEY]
    url = request.query.get("url", "")
    allowed = (sandbox.viber.base_url + "/", (sandbox.app.settings.webhook_base_url or "") + "/")
    if not url.startswith(allowed):
        raise web.HTTPForbidden()
    async with ClientSession() as http, http.get(url) as answer:
        if answer.status != 200:
            raise web.HTTPNotFound()
        data = await answer.read()
    return web.Response(body=data, content_type=_content_type(data))


def create_page(sandbox: Sandbox) -> web.Application:
    page = web.Application()
    page[SANDBOX_KEY] = sandbox
    page.router.add_get("/", _index)
    page.router.add_static("/static/", STATIC)
    page.router.add_get("/samples/{name}.png", _sample)
    page.router.add_get("/api/state", _state)
    page.router.add_get("/api/events", _events)
    page.router.add_post("/api/act", _act)
    page.router.add_post("/api/reset", _reset)
    page.router.add_get("/api/transcript", _transcript)
    page.router.add_get("/api/tg/file/{file_id}", _telegram_file)
    page.router.add_get("/api/viber/media", _viber_media)
    return page


async def serve(settings: Settings, data_dir: Path | None = None) -> None:
    """Run the sandbox and its page until cancelled."""
    # Every webhook call of the stand-ins would be a line: only the page's address matters here.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Beside the embedded default database (data/appeals.db), relative to where it runs.
    sandbox = Sandbox(settings, data_dir or Path("data") / "sandbox")
    await sandbox.reset()
    runner = web.AppRunner(create_page(sandbox), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        shown = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
        logger.info(
            "sandbox (no TELEGRAM_BOT_TOKEN): open http://%s:%d/ - the bot talks only to the "
            "stand-ins here, never to the real Telegram or Viber",
            shown,
            settings.web_port,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        logger.info("sandbox: stopping")
    finally:
        await runner.cleanup()
        await sandbox.stop()
