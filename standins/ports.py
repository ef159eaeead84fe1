"""Ports for the stand-ins, the sandbox and the bot they serve to listen on."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Below the kernel's ephemeral range (Linux's default starts at 32768).
_LOWEST = 10_000
_given: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A free port on the loopback, never one this process gave out before. Taken outside
    the ephemeral range: a port the kernel picked for a probe (port 0) is free to be handed
    to anyone's outgoing connection before the listener binds it, and a sandbox's start once
    failed so ("address already in use")."""
    high = _ephemeral_start()
    for _ in range(1_000):
        port = random.randrange(_LOWEST, high) if high > _LOWEST + 1_000 else 0
        if port in _given:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(probe.getsockname()[1])
        _given.add(port)
        return port
    raise OSError("no free port on the loopback")
