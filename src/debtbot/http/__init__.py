"""HTTP adapter (aiohttp): the staff/ingest/payment API, health, metrics, OpenAPI, webhook."""
