# syntax=docker/dockerfile:1
#
# The platform image: daphne (HTTP + websockets) by default; docker-compose.yml runs
# the same image as the Celery worker and beat. Build: docker build -t platform .

# ---------------------------------------------------------------------------
# Front-end packages from npm, pinned by package-lock.json.
# ---------------------------------------------------------------------------
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# ---------------------------------------------------------------------------
# The source tree, without what a developer's checkout may hold besides it: a .env
# with secrets, the virtualenv, node_modules, var/ (SQLite database, media, static
# files), caches. Only this cleaned tree reaches the final image, so none of it ends
# up in an image layer (nor, through the image, in the media volume).
# ---------------------------------------------------------------------------
FROM python:3.11-slim AS source
COPY . /src
RUN cd /src \
    && rm -rf .env .venv node_modules var .git .pytest_cache htmlcov test-results \
        .coverage .coverage.* celerybeat-schedule* \
    && find . -name __pycache__ -type d -prune -exec rm -rf {} + \
    && find . -name '*.py[co]' -delete

# ---------------------------------------------------------------------------
# The application.
# ---------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# pg_dump/pg_restore of the server's major version, for manage.py backup/restore
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Code stays owned by root (read-only for the app user); only var/ is writable.
COPY --from=source /src/ /app/
COPY --from=assets /app/node_modules/lightweight-charts /app/node_modules/lightweight-charts
COPY --from=assets /app/node_modules/@fontsource-variable/noto-sans-kr /app/node_modules/@fontsource-variable/noto-sans-kr
RUN mkdir -p /app/var/media /app/var/marketdata /app/var/backups \
    && chown -R app:app /app/var

USER app

# Static files for production (whitenoise's CompressedManifestStaticFilesStorage, so the
# hashed names and manifest must come from DJANGO_ENV=production). The values below
# only satisfy config/env_checks.py for this one command: they are dummies, set on
# this RUN line alone, never stored in the image's environment, and nothing connects
# to the database, Redis or mail server they name. The real ones come from .env at
# run time.
RUN DJANGO_ENV=production \
    SECRET_KEY=uZfeZTVGoI_PAGoD34KVSKBggQLr_vdcT9cIbXjPFmIZe64ascX5OWKBs1j7dxV6 \
    DATABASE_URL=postgres://build:build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    SITE_URL=https://build.invalid \
    ALLOWED_HOSTS=build.invalid \
    EMAIL_URL=smtp://localhost:25 \
    DEFAULT_FROM_EMAIL=build@build.invalid \
    FIELD_ENCRYPTION_KEYS=Zjb4X4tXIQllIPArRS0bXSz-GcAMfnn7UCoT7dqMO2g= \
    python manage.py collectstatic --noinput

EXPOSE 8000

CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
