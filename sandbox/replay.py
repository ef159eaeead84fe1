"""Replay a transcript on a fresh sandbox and say where the bot now answers differently."""

from __future__ import annotations

from sandbox.transcript import Step, compare
from sandbox.world import ActionError, Sandbox


async def replay(sandbox: Sandbox, steps: list[Step]) -> list[str]:
    """Every difference between the transcript and what the bot does now, step by step;
    empty when it behaves as recorded. The clock stays pinned to each recorded moment."""
    differences: list[str] = []
    for number, step in enumerate(steps, start=1):
        before = sandbox.views()
        try:
            result = await sandbox.perform(step.action, at=step.at)
        except ActionError as exc:
            differences.append(f"step {number} {step.action}: refused now: {exc}")
            break
        if result != step.result:
            differences.append(f"step {number} {step.action}: answer {result} != {step.result}")
        saw = compare(before, sandbox.views())
        for chat in sorted(set(saw) | set(step.saw)):
            if saw.get(chat) != step.saw.get(chat):
                differences.append(
                    f"step {number} {step.action}, {chat}:\n"
                    f"  recorded: {step.saw.get(chat)}\n  now:      {saw.get(chat)}"
                )
        if differences:
            break  # later steps would only repeat the first difference
    return differences
