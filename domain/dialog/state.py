"""The port through which the dialog keeps its place; aiogram's FSMContext fits it as is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class DialogState(Protocol):
    """Where one resident is in the dialog, and what they have entered so far."""

    async def get_state(self) -> str | None: ...

    async def set_state(self, state: str | None = None) -> None: ...

    async def get_data(self) -> dict[str, Any]: ...

    async def set_data(self, data: Mapping[str, Any]) -> None: ...

    async def clear(self) -> None: ...
