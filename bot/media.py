"""Files the bot keeps: media Viber residents send (their links expire) and media shown to
Viber residents (Viber fetches it by URL). Names are random so URLs cannot be guessed."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.public_resolver import PublicOnlyResolver

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


class MediaSources:
    """Where residents' media may be fetched from: https on Viber's media hosts (a host and
    its subdomains). An entry with a scheme ("http://127.0.0.1:8081", a stand-in) allows
    exactly that origin. Redirects are never followed, so no answer can point the bot at an
    internal address; host names are resolved by `PublicOnlyResolver`, so none that resolves
    to one is fetched (an entry naming an IP address is taken as configured)."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self._suffixes: list[str] = []
        self._origins: set[tuple[str, str, int | None]] = set()
        for entry in (e.strip().lower() for e in entries if e.strip()):
            if "://" in entry:
                url = URL(entry)
                self._origins.add((url.scheme, url.host or "", url.explicit_port))
            else:
                self._suffixes.append(entry.lstrip("."))

    def allows(self, raw: str) -> bool:
        try:
            url = URL(raw)
        except ValueError:
            return False
        host = (url.host or "").lower()
        if not host or url.user or url.password:
            return False
        if (url.scheme, host, url.explicit_port) in self._origins:
            return True
        if url.scheme != "https" or url.explicit_port not in (None, 443):
            return False
        return any(host == s or host.endswith("." + s) for s in self._suffixes)


class MediaStore:
    def __init__(
        self,
        root: Path,
        max_bytes: int,
        public_base: str | None,
        *,
        sources: MediaSources | None = None,
        parallel: int = 4,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._public_base = public_base.rstrip("/") if public_base else None
        self._sources = sources or MediaSources(("viber.com",))
        # Downloads at once, whoever sends: memory and bandwidth stay bounded under a flood.
        self._downloads = asyncio.Semaphore(parallel)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """Downloads have a session of their own: its connector resolves through
        PublicOnlyResolver, which other sessions (the Viber API's) do not need."""
        if self._session is None or self._session.closed:
            resolver = PublicOnlyResolver(self._resolver or aiohttp.ThreadedResolver())
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

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

    async def download(self, url: str, *, fallback_extension: str) -> str:
        """Fetch a URL from an allowed source into the store, streamed to disk, refusing more
        than max_bytes; returns a local ref."""
        if not self._sources.allows(url):
            raise MediaUnavailableError("not one of Viber's media hosts")
        async with self._downloads:
            return await self._fetch(self.session, url, fallback_extension)

    async def _fetch(self, session: aiohttp.ClientSession, url: str, fallback: str) -> str:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        partial = self.root / f".{secrets.token_urlsafe(12)}.part"
        try:
            async with session.get(
                url, timeout=aiohttp.ClientTimeout(total=120), allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise MediaUnavailableError(f"HTTP {response.status}")
                if (response.content_length or 0) > self.max_bytes:
                    raise MediaTooBigError(response.content_length)
                name = self._new_name(response.content_type, fallback)
                size = 0
                handle = await asyncio.to_thread(partial.open, "wb")
                try:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        # The declared length may be missing or wrong: count what arrives.
                        if size > self.max_bytes:
                            raise MediaTooBigError(size)
                        await asyncio.to_thread(handle.write, chunk)
                finally:
                    await asyncio.to_thread(handle.close)
            await asyncio.to_thread(partial.rename, self.root / name)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaUnavailableError(str(exc)) from exc
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        return LOCAL_PREFIX + name

    async def remove_orphans(self, used: set[str], older_than: float) -> int:
        """Delete files no appeal uses and nobody touched for `older_than` seconds (pictures of
        dialogs that were abandoned, leftovers of interrupted downloads). Younger files may
        still belong to a dialog in progress."""

        def sweep() -> int:
            if not self.root.is_dir():
                return 0
            cutoff = time.time() - older_than
            removed = 0
            for path in self.root.iterdir():
                name = path.name
                if LOCAL_PREFIX + name in used or not path.is_file():
                    continue
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            return removed

        return await asyncio.to_thread(sweep)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        try:
            path = self.path(request.match_info["name"])
        except MediaUnavailableError:
            raise web.HTTPNotFound() from None
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)
