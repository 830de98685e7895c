"""`debtbot shell`: the real handlers behind a local Bot API server, the terminal as user."""

from __future__ import annotations

from debtbot.settings import Settings
from debtbot.shell import Terminal, run_shell


def scripted(lines: list[str]) -> tuple[Terminal, list[str]]:
    pending = list(lines)
    shown: list[str] = []

    async def read(prompt: str) -> str | None:
        return pending.pop(0) if pending else None

    return Terminal(read=read, write=shown.append), shown


async def test_shell_verifies_shows_debts_and_presses_numbered_buttons_in_greek():
    terminal, shown = scripted(
        ["/start", "1", "1", "881004", "19/07/1968", "1", "+35799555555", "/debts", ":sticker",
         ":quit"]
    )
    await run_shell(Settings(hash_key="shell-test-key"), language="el", terminal=terminal, quiet=0.05)
    transcript = "\n".join(shown)
    assert "bot: Καλώς ήρθατε!" in transcript
    assert "[1] Για τον εαυτό μου" in transcript
    assert "Ευχαριστούμε. Αυτή η συνομιλία συνδέθηκε με: Mehmet Öztürk." in transcript
    assert "Έχετε 2 εκκρεμείς οφειλές." in transcript  # after /debts
    assert "Καταλαβαίνω μόνο γραπτά μηνύματα" in transcript


async def test_shell_link_option_starts_verified():
    terminal, shown = scripted(["/debts", ":quit"])
    await run_shell(
        Settings(hash_key="shell-test-key"), language="en", terminal=terminal, link="881004",
        quiet=0.05,
    )
    transcript = "\n".join(shown)
    assert "This chat is now linked to Mehmet Öztürk" in transcript
    assert "You have 2 outstanding debts." in transcript
