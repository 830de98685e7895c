# The bot, its scheduler and its HTTP API in one image. Settings come from the environment
# (DEBTBOT_*); see docker-compose.yml and the README. The Python minor version is the one CI
# tests on; the packages are the lock file's, checked against their hashes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBTBOT_LOCALES_DIR=/app/locales \
    DEBTBOT_HTTP_HOST=0.0.0.0 \
    DEBTBOT_HTTP_PORT=8080

WORKDIR /app
COPY requirements/main.txt requirements/main.txt
RUN pip install --require-hashes -r requirements/main.txt
COPY pyproject.toml README.md ./
COPY src ./src
COPY locales ./locales
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 --home-dir /app --no-create-home debtbot

USER debtbot
EXPOSE 8080
# Ready = the HTTP API answers and the database with it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/readyz' % os.environ.get('DEBTBOT_HTTP_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
CMD ["debtbot", "run"]
