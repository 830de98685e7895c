"""Development tools: a local Bot API server, a bare echo bot and a load driver.

`debtbot.devtools.botapi.FakeBotApi` is the Telegram the tests, `debtbot shell` and the
benchmarks talk to; see that module's docstring.
"""
