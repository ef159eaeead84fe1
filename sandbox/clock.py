"""The sandbox's clock: real time plus however far the page moved it forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SandboxClock:
    """A `domain.clock.Clock` that runs with real time and can jump ahead (never back, so
    nothing the bot stored lies in the future). `pinned` stops it: during one person's action
    (so a transcript knows the exact moment every text was written) and during replays."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.pinned: datetime | None = None

    def __call__(self) -> datetime:
        if self.pinned is not None:
            return self.pinned
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta <= timedelta():
            raise ValueError("the sandbox clock only moves forward")
        self.offset += delta
        if self.pinned is not None:
            self.pinned += delta
