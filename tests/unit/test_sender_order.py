"""The outbox sender's order, with a fake transport over the real queue: each chat's rows in the
order they were written, the chats served in turn, the staff chat's notices ahead of its new
cards, and a failing row holding its own chat only."""

from __future__ import annotations

from bot.outbox.sender import Checkpoint, Gate, OutboxSender, RetryLater, SenderConfig
from domain.dialog.events import Channel
from domain.entities import OutboxItem
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.clock import FakeClock

STAFF = "-1001580"


class FakeTransport:
    """Records what it delivers (by the row's label); a label in `failing` fails for now."""

    def __init__(self) -> None:
        # What each pass of the sender delivered (passes that delivered nothing left out).
        self.passes: list[list[str]] = []
        self.current: list[str] = []
        self.failing: set[str] = set()

    def limit_key(self, item: OutboxItem) -> tuple[str, bool]:
        return item.chat, item.chat == STAFF

    async def deliver(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        await gate()
        label = str(item.payload["label"])
        if label in self.failing:
            raise RetryLater(f"{label}: 502")
        self.current.append(label)
        await checkpoint(1)

    async def card_failed(self, item: OutboxItem, error: str, uow: UnitOfWork) -> None:
        raise AssertionError("no card fails here")

    def delivered(self) -> list[str]:
        return [label for one in self.passes for label in one]


class OpenLimiter:
    """Never says wait: the order under test is the queue's, not the limiter's."""

    async def reserve(self, chat_key: str, *, group: bool) -> float:
        return 0.0

    async def pause(self, chat_key: str | None, seconds: float) -> None:
        return None


async def write(uows: UnitOfWorkFactory, clock: FakeClock, *rows: str) -> None:
    """Rows labelled "<chat><n>" (chats A, B, C are residents, S the staff chat); "S-card"
    rows are new staff cards, other staff rows are notices about cards already there."""
    async with uows() as uow:
        for label in rows:
            chat = STAFF if label.startswith("S") else label[0]
            kind = "card" if "card" in label else "replies"
            await uow.outbox.add(
                channel=Channel.TELEGRAM,
                chat=chat,
                kind=kind,
                payload={"label": label},
                now=clock(),
            )
        await uow.commit()


def sender_of(uows: UnitOfWorkFactory, transport: FakeTransport, clock: FakeClock) -> OutboxSender:
    return OutboxSender(
        uows,
        {Channel.TELEGRAM: transport},
        OpenLimiter(),
        clock=clock,
        config=SenderConfig(backoff_base=5.0, staff_chat=STAFF),
    )


async def drain(sender: OutboxSender, transport: FakeTransport, passes: int = 10) -> None:
    for _pass in range(passes):
        transport.current = []
        await sender.drain_once()
        if transport.current:
            transport.passes.append(transport.current)


async def test_each_chat_in_order_and_the_chats_in_turn(
    uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await write(uows, clock, "A1", "A2", "A3", "B1", "A4", "C1", "B2", "C2", "B3")
    transport = FakeTransport()
    await drain(sender_of(uows, transport, clock), transport)
    # One row per chat per pass, the chat whose next row is oldest first.
    assert transport.passes == [["A1", "B1", "C1"], ["A2", "B2", "C2"], ["A3", "B3"], ["A4"]]


async def test_the_staff_chats_notices_go_ahead_of_its_new_cards(
    uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await write(uows, clock, "S-card1", "S-card2", "A1", "S-note1", "S-card3", "S-note2")
    transport = FakeTransport()
    await drain(sender_of(uows, transport, clock), transport)
    assert [label for label in transport.delivered() if label.startswith("S")] == [
        "S-note1",
        "S-note2",
        "S-card1",
        "S-card2",
        "S-card3",
    ]
    # The resident's row did not wait for the staff chat's queue.
    assert transport.passes[0] == ["A1", "S-note1"]


async def test_a_failing_row_holds_its_own_chat_only(
    uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await write(uows, clock, "A1", "B1", "A2", "B2", "A3", "B3")
    transport = FakeTransport()
    transport.failing.add("B1")
    sender = sender_of(uows, transport, clock)
    await drain(sender, transport)
    assert transport.delivered() == ["A1", "A2", "A3"]
    # Its retry is not due yet: nothing of B goes, however often the sender looks.
    transport.failing.clear()
    await drain(sender, transport)
    assert transport.delivered() == ["A1", "A2", "A3"]
    clock.advance(seconds=5)
    await drain(sender, transport)
    assert transport.delivered() == ["A1", "A2", "A3", "B1", "B2", "B3"]


async def test_a_row_that_never_goes_through_stops_holding_its_chat(
    uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await write(uows, clock, "B1", "B2")
    transport = FakeTransport()
    transport.failing.add("B1")
    sender = sender_of(uows, transport, clock)
    for _attempt in range(SenderConfig().max_attempts):
        await drain(sender, transport, passes=1)
        assert transport.delivered() == []
        clock.advance(seconds=SenderConfig().backoff_cap)
    # The last attempt recorded it as failed; the chat's next row goes.
    await drain(sender, transport)
    assert transport.delivered() == ["B2"]
