"""What /proc says about a process and its children (the workers of WEB_WORKERS)."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The parent pid is the second field after the parenthesised command name.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def status_kb(pid: int, field_name: str) -> int:
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM) in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def tree_memory_kb(pid: int, field_name: str) -> int:
    return sum(status_kb(p, field_name) for p in [pid, *children(pid)])
