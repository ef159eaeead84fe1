"""Files the bot keeps: media Viber residents send (their links expire) and media shown to
Viber residents (Viber fetches it by URL). Names are random so URLs cannot be guessed."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

import aiohttp
from aiohttp import web

logger = logging.getLogger(__name__)

# A stored file's reference in MediaItem.file_ref: "file:<name>" (Telegram refs are file ids).
LOCAL_PREFIX = "file:"
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
}
CHUNK = 64 * 1024


class MediaTooBigError(Exception):
    pass


class MediaUnavailableError(Exception):
    pass


def is_local(ref: str) -> bool:
    return ref.startswith(LOCAL_PREFIX)


class MediaStore:
    def __init__(self, root: Path, max_bytes: int, public_base: str | None) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._public_base = public_base.rstrip("/") if public_base else None

    def path(self, ref: str) -> Path:
        """The file behind a local reference; never outside the media folder."""
        name = ref.removeprefix(LOCAL_PREFIX)
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise MediaUnavailableError(ref)
        return self.root / name

    def url(self, ref: str) -> str | None:
        """Where Viber can fetch a stored file (None without a public base URL)."""
        if self._public_base is None:
            return None
        return f"{self._public_base}/media/{ref.removeprefix(LOCAL_PREFIX)}"

    def locate(self, ref: str) -> tuple[str, int] | None:
        """The public URL and size of a stored file (None for other refs or no public base)."""
        if not is_local(ref):
            return None
        url = self.url(ref)
        if url is None:
            return None
        return url, self.path(ref).stat().st_size

    def _new_name(self, content_type: str | None, fallback: str) -> str:
        extension = _EXTENSIONS.get((content_type or "").split(";")[0].strip(), fallback)
        return secrets.token_urlsafe(18) + extension

    async def save_bytes(self, content: bytes, extension: str) -> str:
        if len(content) > self.max_bytes:
            raise MediaTooBigError(len(content))
        name = secrets.token_urlsafe(18) + extension
        await self._write(name, content)
        return LOCAL_PREFIX + name

    async def _write(self, name: str, content: bytes) -> None:
        def write() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_bytes(content)

        # Disk writes off the event loop: other residents' updates keep flowing meanwhile.
        await asyncio.to_thread(write)

    async def download(
        self, session: aiohttp.ClientSession, url: str, *, fallback_extension: str
    ) -> str:
        """Fetch a URL into the store, refusing more than max_bytes; returns a local ref."""
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as response:
                if response.status != 200:
                    raise MediaUnavailableError(f"HTTP {response.status}")
                if (response.content_length or 0) > self.max_bytes:
                    raise MediaTooBigError(response.content_length)
                name = self._new_name(response.content_type, fallback_extension)
                content = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    content.extend(chunk)
                    # The declared length may be missing or wrong: count what arrives.
                    if len(content) > self.max_bytes:
                        raise MediaTooBigError(len(content))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaUnavailableError(str(exc)) from exc
        await self._write(name, bytes(content))
        return LOCAL_PREFIX + name

    async def serve(self, request: web.Request) -> web.StreamResponse:
        try:
            path = self.path(request.match_info["name"])
        except MediaUnavailableError:
            raise web.HTTPNotFound() from None
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)
