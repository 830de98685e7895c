"""Every word of the console has its Greek: the strings in the templates (`_("…")`, and the
labels of option lists) and those console.py shows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from debtbot.domain.messages import DeliveryStatus, OutboxPurpose
from debtbot.http import console
from debtbot.http.console_texts import GREEK
from debtbot.services.broadcasts import BroadcastStatus
from debtbot.services.staff import Role

HERE = Path(console.__file__).resolve().parent


def console_strings() -> set[str]:
    found: set[str] = set()
    for page in (HERE / "console_templates").glob("*.html"):
        text = page.read_text()
        for match in re.finditer(r'_\(\s*"((?:[^"\\]|\\.)*)"\s*\)|_\(\s*\'((?:[^\'\\]|\\.)*)\'\s*\)', text):
            found.add(match.group(1) or match.group(2))
        found.update(re.findall(r'\("[a-z_]+", "([^"]+)"\)', text))
    tree = ast.parse((HERE / "console.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "say" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            if name == "message":
                found.update(kw.value.value for kw in node.keywords
                             if kw.arg in ("title", "text") and isinstance(kw.value, ast.Constant))
    for table in (console.ERRORS, console.NO_CHAT_TEXT, console.SIGNIN_REFUSED):
        found.update(table.values())
    found.update(s.value for s in DeliveryStatus)
    found.update(p.value for p in OutboxPurpose)
    found.update(s.value for s in BroadcastStatus)
    found.update(r.value for r in Role)
    return found


def test_every_console_string_has_its_greek() -> None:
    strings = console_strings()
    assert len(strings) > 200
    assert sorted(s for s in strings if not GREEK.get(s)) == []


def test_greek_keeps_the_placeholders_and_commands() -> None:
    for english, greek in GREEK.items():
        for token in re.findall(r"\{\w+\}|/console|`[^`]+`", english):
            assert token in greek, (english, token)
