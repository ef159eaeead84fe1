"""How long a resident's notification waits while the staff chat has a long queue.

1,000 staff-chat rows are queued (a maintenance pass over many overdue appeals), the sender
starts under the default limits (20 messages a minute to a group, 30/s in all), and then a
resident's notification is queued: the figure is the time until it reaches the stand-in.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from standins.telegram import TelegramStandIn

TOKEN = "123456:bench-token"
STAFF_CHAT = -1001580


async def resident_behind_staff(staff_rows: int = 1000, residents: int = 5) -> list[float]:
    """Seconds from queueing each resident's notification to its delivery."""
    from bot.app import build_application
    from bot.config import Settings
    from domain.dialog.events import Channel
    from domain.dialog.replies import Reply
    from storage.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="bench-fairness-"))
    waits: list[float] = []
    try:
        async with TelegramStandIn(TOKEN) as tg:
            tg.group(STAFF_CHAT, title="15-80 operators", members=[])
            users = [tg.user(300_000 + i) for i in range(residents)]
            settings = Settings(
                _env_file=None,
                telegram_bot_token=TOKEN,
                telegram_api_url=tg.base_url,
                staff_chat_id=STAFF_CHAT,
                database_url=f"sqlite+aiosqlite:///{workdir / 'fairness.db'}",
            )
            app = build_application(settings)
            try:
                await upgrade(app.engine)
                async with app.uows() as uow:
                    for index in range(staff_rows):
                        await uow.outbox.add(
                            channel=Channel.TELEGRAM,
                            chat=str(STAFF_CHAT),
                            kind="replies",
                            payload={"replies": [Reply(f"staff {index}").to_data()], "card": None},
                            now=app.clock(),
                        )
                    await uow.commit()
                app.start_background()
                for user in users:
                    await asyncio.sleep(0.5)  # the sender is busy with the staff queue
                    async with app.uows() as uow:
                        await uow.outbox.add(
                            channel=Channel.TELEGRAM,
                            chat=str(user.id),
                            kind="replies",
                            payload={"replies": [Reply("Appeal accepted").to_data()]},
                            now=app.clock(),
                        )
                        started = time.perf_counter()
                        await uow.commit()
                    await tg.wait_for_messages(user.id, 1, timeout=60)
                    waits.append(time.perf_counter() - started)
                async with app.uows() as uow:
                    left = await uow.outbox.count_pending()
                assert left >= staff_rows - 100, "the staff queue should still be long"
            finally:
                await app.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return waits


def report(waits: list[float], staff_rows: int = 1000) -> str:
    return (
        f"outbox fairness: with {staff_rows} staff-chat rows queued, a resident's notification "
        f"went out in {max(waits) * 1000:.0f} ms at worst "
        f"({', '.join(f'{w * 1000:.0f}' for w in waits)} ms; target < 2000 ms)"
    )


if __name__ == "__main__":
    print(report(asyncio.run(resident_behind_staff())))
