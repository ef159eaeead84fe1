"""Real PostgreSQL and Redis for the tests that need them.

When a service is unreachable those tests fail with the reason: a test that did not run
proves nothing.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    pytest.fail(f"{service} at {host}:{port} is unreachable; tests that need it cannot run")
