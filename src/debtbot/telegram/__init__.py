"""The Telegram adapter: python-telegram-bot handlers that parse, call a service, render.

`debtbot.telegram.application.build_application(deps)` assembles them; one module per
feature (start, verify, debts, language, privacy, forget, help, ...), each with
`register(application)`. No SQL here and no store imports: services do the work.
"""
