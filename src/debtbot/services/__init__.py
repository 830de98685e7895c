"""Use cases. Each takes its collaborators as keyword arguments and returns domain objects or
messages to send, never Telegram objects."""
