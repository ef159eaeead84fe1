"""Transcripts downloaded from the sandbox page, stored here, replayed as regression tests:
the bot must show every chat exactly as it did when the session was recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from sandbox.replay import replay
from sandbox.transcript import Step, load
from sandbox.world import Sandbox

# The sandbox always runs on its own SQLite file: its tests belong to the SQLite leg.
pytestmark = pytest.mark.sqlite_only

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.json"))


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Sandbox]:
    world = Sandbox(Settings(_env_file=None), tmp_path / "sandbox")
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


def test_there_are_transcripts_to_replay() -> None:
    assert TRANSCRIPTS, "tests/sandbox/transcripts/ holds no transcripts"


@pytest.fixture(params=TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def transcript(request: pytest.FixtureRequest) -> list[Step]:
    path: Path = request.param
    return load(path.read_text(encoding="utf-8"))


@pytest.mark.timeout(300)
async def test_transcript_replays(transcript: list[Step], fresh: Sandbox) -> None:
    assert transcript
    assert await replay(fresh, transcript) == []


async def test_a_changed_answer_is_reported(fresh: Sandbox, tmp_path: Path) -> None:
    """The replay can fail: a transcript whose recorded greeting was different is caught."""
    recorder_world = Sandbox(Settings(_env_file=None), tmp_path / "recording")
    await recorder_world.start()
    try:
        await recorder_world.perform({"do": "tg.text", "as": "resident", "text": "/start"})
        steps = load(recorder_world.recorder.dumps())
    finally:
        await recorder_world.stop()
    chat = next(iter(steps[0].saw))
    steps[0].saw[chat]["lines"][-1] += " (changed)"
    differences = await replay(fresh, steps)
    assert len(differences) == 1
    assert "(changed)" in differences[0]
