# syntax=docker/dockerfile:1
# The expbot service: Slack bot, scheduler and outbox dispatcher.
#
#   docker build -t expbot .
#   docker run -p 3000:3000 -v expbot-data:/data \
#     -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET expbot
#
# The default command serves Slack's HTTP requests on port 3000. For
# Socket Mode, pass SLACK_APP_TOKEN and the command `expbot serve --socket`.
# The health check then fails, because only HTTP mode serves /healthz.

# Stage 1: build wheels for expbot and every dependency.
FROM python:3.11-slim AS build

WORKDIR /src
COPY pyproject.toml README.md ./
COPY tracker/ tracker/
COPY bot/ bot/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Stage 2: install the wheels without a network or a compiler.
FROM python:3.11-slim

LABEL org.opencontainers.image.title="expbot" \
      org.opencontainers.image.description="Track, search, share and report on ML experiments from Slack" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EXPBOT_HOME=/data

RUN groupadd --system --gid 10001 expbot \
    && useradd --system --no-log-init --uid 10001 --gid expbot \
        --home-dir /home/expbot --create-home expbot \
    && mkdir /data \
    && chown expbot:expbot /data

# A bind mount keeps the wheels out of the image's layers.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/expbot-*.whl

# The expbot user, by number so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /data
# The default SQLite database, $EXPBOT_HOME/expbot.db, lives here. Set
# EXPBOT_DATABASE_URL to use PostgreSQL instead.
VOLUME ["/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]

CMD ["expbot", "serve", "--http", "--port", "3000"]
