"""The domain depends on nothing outside it but the standard library and Babel: no storage, no
SQLAlchemy, no messenger library, not even for type checking. `fsm_states` (the step names the
domain owns) likewise."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("storage", "sqlalchemy", "aiogram", "viberbot", "aiohttp", "bot", "handlers", "redis")


def _imports(path: Path) -> list[str]:
    """Every module a file imports, wherever the import statement is (TYPE_CHECKING too)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.append(node.module)
    return names


def _offending(path: Path) -> list[str]:
    return [name for name in _imports(path) if name.split(".")[0] in FORBIDDEN]


@pytest.mark.parametrize(
    "path",
    sorted([*ROOT.joinpath("domain").rglob("*.py"), *ROOT.joinpath("fsm_states").rglob("*.py")]),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_the_domain_imports_no_storage_nor_messenger_library(path: Path) -> None:
    assert _offending(path) == []


def test_the_check_catches_an_import_hidden_under_type_checking(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from storage.uow import UnitOfWork\n"
        "import sqlalchemy.orm\n"
    )
    assert sorted(_offending(sneaky)) == ["sqlalchemy.orm", "storage.uow"]
