"""The page's API: bad input gets a clear answer and changes nothing; the live view sends the
world at once."""

from __future__ import annotations

import json

import pytest
from aiohttp import ClientSession

from tests.sandbox.conftest import RunningSandbox

# The sandbox always runs on its own SQLite file: its tests belong to the SQLite leg.
pytestmark = pytest.mark.sqlite_only


async def test_refusals_are_explained(sandbox: RunningSandbox) -> None:
    async with ClientSession() as http:
        cases = [
            (b"not json", "JSON"),
            (b"[1]", "JSON object"),
            (json.dumps({"do": "tg.teleport"}).encode(), "unknown action"),
            (json.dumps({"do": "tg.text", "as": "nobody", "text": "hi"}).encode(), "nobody"),
            (
                json.dumps(
                    {"do": "tg.text", "as": "stranger", "chat": -1001580, "text": "let me in"}
                ).encode(),
                "only members",
            ),
            (json.dumps({"do": "clock", "hours": -5}).encode(), "only moves forward"),
        ]
        for body, said in cases:
            async with http.post(sandbox.url + "api/act", data=body) as answer:
                assert answer.status == 400, body
                assert said in (await answer.json())["error"], body
    assert sandbox.sandbox.recorder.steps == []
    assert sandbox.sandbox.tg.history(-1001580) == []


async def test_live_view_sends_the_world_first(sandbox: RunningSandbox) -> None:
    async with ClientSession() as http, http.get(sandbox.url + "api/events") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        line = await stream.content.readline()
    assert line.startswith(b"data: ")
    world = json.loads(line[len(b"data: ") :])
    assert world["ready"] is True
    assert [p["role"] for p in world["staff"]["people"]] == ["operator", "operator", "stranger"]
