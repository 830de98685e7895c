"""The `console` fixture (console_harness.py): the server, the bot, the sender, Chromium."""

from console_harness import console  # noqa: F401 - the fixture
