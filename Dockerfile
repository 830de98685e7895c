# The bot, its scheduler and its HTTP API in one image. Settings come from the environment
# (DEBTBOT_*); see docker-compose.yml and the README.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBTBOT_LOCALES_DIR=/app/locales \
    DEBTBOT_HTTP_HOST=0.0.0.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY locales ./locales
RUN pip install . && useradd --system --home-dir /app --no-create-home debtbot

USER debtbot
EXPOSE 8080
# Migrations first (idempotent; PostgreSQL serialises concurrent upgrades), then the bot.
CMD ["sh", "-c", "debtbot db upgrade && exec debtbot run"]
