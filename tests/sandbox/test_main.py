"""`make run` with no token: main.py starts the sandbox and its page, nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from standins.ports import free_port

# The sandbox always runs on its own SQLite file: its tests belong to the SQLite leg.
pytestmark = pytest.mark.sqlite_only


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


def test_no_token_starts_the_sandbox(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "VIBER_"))}
    env.update(WEB_HOST="127.0.0.1", WEB_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "main.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = ""
        deadline = time.monotonic() + 90
        while '"ready": true' not in state:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the sandbox did not come up"
            try:
                state = _get(f"http://127.0.0.1:{port}/api/state")
            except OSError:
                time.sleep(0.2)
        page = _get(f"http://127.0.0.1:{port}/")
        assert "never talks to the real Telegram or Viber" in page
        # Its own database beside the embedded default's place, not the bot's.
        assert (tmp_path / "data" / "sandbox" / "sandbox.db").exists()
        assert not (tmp_path / "data" / "appeals.db").exists()
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    # SIGTERM stops it cleanly, as it does the bot.
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
