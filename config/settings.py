"""One settings module, read from the environment (django-environ).

With no environment at all you get the embedded defaults: SQLite, an in-memory
cache and channel layer, and Celery on kombu's in-memory transport with a worker
and beat inside the web process. Set DATABASE_URL / REDIS_URL for the full stack.
DJANGO_ENV=production adds the hardening and refuses placeholder secrets.
"""

from __future__ import annotations

import base64
import hashlib
import os
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import env_checks
from core.storage import results_storage

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file), overwrite=False)

# ---------------------------------------------------------------------------
# Mode
# ---------------------------------------------------------------------------
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
env_checks.enforce()

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
# With DEBUG, a 404 or 500 still shows the site's own page (core.error_pages); 1 brings back Django's debug pages.
DEBUG_ERROR_PAGES = env.bool("DEBUG_ERROR_PAGES", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-only-for-local-development-0123456789")
SITE_NAME = env.str("SITE_NAME", default="퀀트K")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])
# Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are believed;
# from any other peer those headers are dropped (core.proxies). Empty: the TCP peer is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

# ---------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "config.apps.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "django_htmx",
    # ours
    "core",
    "accounts",
    "marketdata",
    "strategies",
    "backtests",
    "trading",
    "coupons",
    "notifications",
]

MIDDLEWARE = [
    "core.proxies.TrustedProxyMiddleware",  # first: the client address and scheme, before anything reads them
    "core.metrics.middleware.MetricsMiddleware",  # requests, latency and 5xx per view (Prometheus); near the top so it times the rest
    "django.middleware.security.SecurityMiddleware",
    "core.error_pages.SiteServerErrorMiddleware",  # the site's 500 page in DEBUG too (its exception hook runs last)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # X-Request-ID on every answer; a signed-in user's last 20 kept (feedback reports)
    "notifications.request_ids.RequestIdMiddleware",
    "accounts.middleware.PreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # maintenance mode: unsafe methods refused (503) for non-staff, except sign-in/out and the admin
    "core.system.middleware.MaintenanceMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.htmx_auth.HtmxLoginRedirectMiddleware",  # a fragment whose session ended sends the page to sign in
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (Security section)
    "core.error_pages.SiteNotFoundMiddleware",  # the site's 404 page in DEBUG too
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
# daphne processes of `manage.py serve` with external services (0: one per CPU); embedded mode runs one
SERVE_WORKERS = env.int("SERVE_WORKERS", default=0)
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.site",
                "trading.context_processors.broker_outages",
                "notifications.centre_context.bell",
                "notifications.announcement_context.announcements",
                "core.system.context.maintenance",  # maintenance banner (system settings; one cache read per request)
            ],
        },
    },
]

FORM_RENDERER = "core.form_renderer.FormRenderer"  # Django's form templates through Jinja2: twice as fast

# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a daphne or worker subprocess in the browser tests
    # sees what the test wrote. One per test run (TEST_DB_SUFFIX, default the process id), so two
    # runs on one machine at once never share a file; pytest-django removes it at the end.
    DATABASES["default"]["TEST"] = {
        "NAME": str(DATA_DIR / f"test-db-{env.str('TEST_DB_SUFFIX', default=str(os.getpid()))}.sqlite3")}
    # The web process writes from request threads and from the embedded worker's threads at once
    # (the tests' connections use the same options). WAL: readers never wait for the writer, nor
    # the writer for readers. A writer waits up to `timeout` s for the one write lock, but SQLite
    # cannot wait for a transaction that read first and then upgrades to writing (it answers
    # "database is locked" at once, or the two would deadlock): IMMEDIATE makes every
    # transaction.atomic take the write lock at BEGIN, where the wait works. So jobs keep their
    # transactions short and never compute inside one. synchronous=NORMAL is SQLite's advice
    # for WAL: a commit survives an application crash (a power cut may lose the last ones).
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    })
else:
    # Under daphne every request runs in a thread of its own: persistent per-thread connections
    # would pile up past max_connections under load, so each process borrows from one pool.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }

# ---------------------------------------------------------------------------
# Cache, channel layer, Celery: Redis when REDIS_URL is set, in-memory otherwise
# ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# "brokers": what every process shares per broker app key (the encrypted access token, its issuance
# lock and cooldown; trading.sharing). Never in-memory: a management command run beside the server
# must find the server's token, so embedded mode keeps it in the database (table created on migrate).
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "brokers": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                    "KEY_PREFIX": "brokers"},
    }
    # socket_timeout above channels-redis's 5 s BZPOPMIN: at redis-py's default (5 s) the read of an idle
    # socket's receive times out first, and the consumer dies with 1011 after 5 s without a message.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                    "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]}}
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # a large MAX_ENTRIES: Django's culling would drop live tokens at random past the default 300
        "brokers": {"BACKEND": "trading.sharing.BrokerDatabaseCache", "LOCATION": "broker_cache",
                    "OPTIONS": {"MAX_ENTRIES": 1_000_000}},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
# Embedded mode: the worker and beat run as threads inside the web process.
CELERY_EMBEDDED = CELERY_BROKER_URL.startswith("memory://")
if CELERY_EMBEDDED:
    # kombu's in-memory transport polls its queues (every second by default): a backtest would
    # wait up to a second before the embedded worker saw it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.02}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TIMEZONE = "Asia/Seoul"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_IMPORTS = ["core.backup.tasks"]  # tasks outside an app's tasks.py
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
READY_CELERY_TIMEOUT = env.float("READY_CELERY_TIMEOUT", default=2.0)

# ---------------------------------------------------------------------------
# Accounts (django-allauth, with MFA)
# ---------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}  # with the invite code (accounts.invites)
INVITE_REWARDS_PER_MONTH = env.int("INVITE_REWARDS_PER_MONTH", default=10)  # per inviter, then refused
# Brute force: one count of failed sign-ins per account and one per address, shared by the login
# page, its 2FA step and the API token endpoint (accounts.lockout, on allauth's rate limits in the
# cache). The account is the main defence: its 5th failure within 15 minutes locks it (in the
# database) for LOGIN_LOCK_MINUTES, with an email to the owner. The address limit only stops one
# address from spraying guesses over many accounts: 30 in 10 minutes leaves room for a whole office
# behind one NAT (a few typos each, and a locked account stops counting) while holding a sprayer to
# 180 guesses an hour (the old 10/minute allowed 600, and 12 typos blocked everyone behind it).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="30/10m/ip,5/15m/key"),
}
LOGIN_LOCK_MINUTES = env.int("LOGIN_LOCK_MINUTES", default=15)
# allauth and DRF take the client address from REMOTE_ADDR, which core.proxies has already resolved:
# neither may read X-Forwarded-For again.
ALLAUTH_TRUSTED_PROXY_COUNT = 0
MFA_FORMS = {"authenticate": "accounts.forms.MfaAuthenticateForm"}
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=PRODUCTION)

# Fernet keys for secrets at rest (TOTP secrets now, broker credentials later).
# Newest key first; older keys still decrypt, so rotation is: prepend, re-save, drop.
_dev_key = base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_dev_key])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------------------
# Notifications (notifications/): Telegram, operators' alerts, feedback, webhooks
# ---------------------------------------------------------------------------
# One bot for the platform. Every base URL from the environment: a fake Bot API server stands in for tests.
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org").rstrip("/")
# checked against the X-Telegram-Bot-Api-Secret-Token header of every webhook update
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
TELEGRAM_LINK_TOKEN_MINUTES = env.int("TELEGRAM_LINK_TOKEN_MINUTES", default=10)
# Telegram's limits: about 30 messages a second overall, one a second per chat
TELEGRAM_MESSAGES_PER_SECOND = env.float("TELEGRAM_MESSAGES_PER_SECOND", default=25.0)
TELEGRAM_CHAT_SECONDS_PER_MESSAGE = env.float("TELEGRAM_CHAT_SECONDS_PER_MESSAGE", default=1.0)
TELEGRAM_HTTP_TIMEOUT = env.float("TELEGRAM_HTTP_TIMEOUT", default=10.0)
# the operators' channel: a staff Telegram chat and email addresses
OPS_TELEGRAM_CHAT_ID = env.int("OPS_TELEGRAM_CHAT_ID", default=0)
OPS_ALERT_EMAILS = env.list("OPS_ALERT_EMAILS", default=[])
FEEDBACK_SCREENSHOT_MAX_BYTES = env.int("FEEDBACK_SCREENSHOT_MAX_BYTES", default=5 * 1024 * 1024)
APP_VERSION = env.str("APP_VERSION", default="dev")
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)  # per delivery, with back-off
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=10)  # deliveries in a row
# Hosts a webhook may be sent to even when they resolve to a private address: for tests only.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.list("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=[])
OPS_BROKER_FAILING_USERS = env.int("OPS_BROKER_FAILING_USERS", default=5)  # distinct users failing at one broker within 10 min
OPS_QUEUE_BACKLOG = env.int("OPS_QUEUE_BACKLOG", default=500)  # tasks waiting in Celery's Redis queue before an alert

# ---------------------------------------------------------------------------
# Metrics (core.metrics, docs/runbook-metrics.md). PROMETHEUS_MULTIPROC_DIR (environment only, read before
# prometheus_client loads): default $DATA_DIR/prometheus; the compose override sets one per container.
# ---------------------------------------------------------------------------
# bearer token of /metrics and of a worker's METRICS_PORT; unset: /metrics is 404 in production, loopback-only in development
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
ALERTMANAGER_TOKEN = env.str("ALERTMANAGER_TOKEN", default="")  # bearer token of Alertmanager's POST /ops/alerts/; unset: 404

# ---------------------------------------------------------------------------
# Language, time zone
# ---------------------------------------------------------------------------
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "lang"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Static and media files
# ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Front-end packages come from npm (package-lock.json), installed by ./dev, never committed.
NODE_MODULES = BASE_DIR / "node_modules"
if (NODE_MODULES / "lightweight-charts" / "dist").is_dir():
    STATICFILES_DIRS.append(("vendor/lightweight-charts", NODE_MODULES / "lightweight-charts" / "dist"))
# The Korean UI font (Noto Sans KR, OFL): one stylesheet of unicode-range slices, so a page fetches
# only the slices of the characters it shows. Without it, app.css falls back to the system fonts.
WEB_FONT_DIR = NODE_MODULES / "@fontsource-variable" / "noto-sans-kr"
if (WEB_FONT_DIR / "index.css").is_file():
    STATICFILES_DIRS.append(("vendor/noto-sans-kr", WEB_FONT_DIR))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
# the bar store: a folder, or s3://bucket/prefix[?endpoint_override=host:port&scheme=http&region=...] (a read-only
# mirror: imports and the bars' ingest run where the store is a folder; docs/runbook.md)
_market_data_root = env.str("MARKET_DATA_ROOT", default=str(DATA_DIR / "marketdata"))
MARKET_DATA_ROOT = _market_data_root if _market_data_root.startswith("s3://") else Path(_market_data_root)
# S3-compatible storage (results, backups): endpoint empty = AWS itself; keys empty = boto3's own chain (instance role)
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
# results (backtest result files) in this bucket when set, else on local disk (MEDIA_ROOT)
STORAGE_S3_BUCKET = env.str("STORAGE_S3_BUCKET", default="")
STORAGE_S3_PREFIX = env.str("STORAGE_S3_PREFIX", default="media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
STORAGES["default"] = results_storage(bucket=STORAGE_S3_BUCKET, prefix=STORAGE_S3_PREFIX,
                                      endpoint_url=AWS_S3_ENDPOINT_URL, region=AWS_S3_REGION_NAME,
                                      access_key=AWS_ACCESS_KEY_ID, secret_key=AWS_SECRET_ACCESS_KEY)

# ---------------------------------------------------------------------------
# Backups (core/backup; docs/runbook.md "Backups and restore")
# ---------------------------------------------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(DATA_DIR / "backups")))  # one folder per set
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)  # newest sets kept, older deleted after each backup (never the only one)
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")  # set: sets go to this bucket (AWS_* above) instead of BACKUP_DIR
BACKUP_S3_PREFIX = env.str("BACKUP_S3_PREFIX", default="backups")
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# ---------------------------------------------------------------------------
# Market data providers (marketdata/providers/), tried in this order
# ---------------------------------------------------------------------------
MARKET_DATA_PROVIDERS = env.list("MARKET_DATA_PROVIDERS", default=["local", "csv", "kis", "kiwoom", "pykrx"])
MARKET_DATA_CSV_DIR = Path(env.str("MARKET_DATA_CSV_DIR", default=str(DATA_DIR / "bars")))
MARKET_DATA_CACHE_SECONDS = env.int("MARKET_DATA_CACHE_SECONDS", default=600)
MARKET_DATA_HTTP_TIMEOUT = env.float("MARKET_DATA_HTTP_TIMEOUT", default=10.0)
MARKET_DATA_KIS_BASE_URL = env.str("MARKET_DATA_KIS_BASE_URL", default="https://openapi.koreainvestment.com:9443")
MARKET_DATA_KIS_APP_KEY = env.str("MARKET_DATA_KIS_APP_KEY", default="")
MARKET_DATA_KIS_APP_SECRET = env.str("MARKET_DATA_KIS_APP_SECRET", default="")
MARKET_DATA_KIS_REQUESTS_PER_SECOND = env.float("MARKET_DATA_KIS_REQUESTS_PER_SECOND", default=15.0)  # mock: 1
MARKET_DATA_KIWOOM_BASE_URL = env.str("MARKET_DATA_KIWOOM_BASE_URL", default="https://api.kiwoom.com")
MARKET_DATA_KIWOOM_APP_KEY = env.str("MARKET_DATA_KIWOOM_APP_KEY", default="")
MARKET_DATA_KIWOOM_APP_SECRET = env.str("MARKET_DATA_KIWOOM_APP_SECRET", default="")
MARKET_DATA_KIWOOM_REQUESTS_PER_SECOND = env.float("MARKET_DATA_KIWOOM_REQUESTS_PER_SECOND", default=4.0)

# ---------------------------------------------------------------------------
# Brokers (trading/brokers/): every base URL from the environment, defaulting to the official
# hosts (broker-apis.md A1/B1), so any server that speaks the same API can stand in
# ---------------------------------------------------------------------------
BROKER_KIS_REAL_URL = env.str("BROKER_KIS_REAL_URL", default="https://openapi.koreainvestment.com:9443")
BROKER_KIS_MOCK_URL = env.str("BROKER_KIS_MOCK_URL", default="https://openapivts.koreainvestment.com:29443")
BROKER_KIS_REAL_WS_URL = env.str("BROKER_KIS_REAL_WS_URL", default="ws://ops.koreainvestment.com:21000")
BROKER_KIS_MOCK_WS_URL = env.str("BROKER_KIS_MOCK_WS_URL", default="ws://ops.koreainvestment.com:31000")
BROKER_KIWOOM_REAL_URL = env.str("BROKER_KIWOOM_REAL_URL", default="https://api.kiwoom.com")
BROKER_KIWOOM_MOCK_URL = env.str("BROKER_KIWOOM_MOCK_URL", default="https://mockapi.kiwoom.com")
BROKER_KIWOOM_REAL_WS_URL = env.str("BROKER_KIWOOM_REAL_WS_URL", default="wss://api.kiwoom.com:10000/api/dostk/websocket")
BROKER_KIWOOM_MOCK_WS_URL = env.str("BROKER_KIWOOM_MOCK_WS_URL", default="wss://mockapi.kiwoom.com:10000/api/dostk/websocket")
# Requests per second per app key, across every process (A7: KIS 18 real, 1 mock; B7: Kiwoom <= 5)
BROKER_KIS_REAL_REQUESTS_PER_SECOND = env.int("BROKER_KIS_REAL_REQUESTS_PER_SECOND", default=18)
BROKER_KIS_MOCK_REQUESTS_PER_SECOND = env.int("BROKER_KIS_MOCK_REQUESTS_PER_SECOND", default=1)
BROKER_KIWOOM_REAL_REQUESTS_PER_SECOND = env.int("BROKER_KIWOOM_REAL_REQUESTS_PER_SECOND", default=5)
BROKER_KIWOOM_MOCK_REQUESTS_PER_SECOND = env.int("BROKER_KIWOOM_MOCK_REQUESTS_PER_SECOND", default=5)
BROKER_HTTP_CONNECT_TIMEOUT = env.float("BROKER_HTTP_CONNECT_TIMEOUT", default=3.0)
BROKER_HTTP_READ_TIMEOUT = env.float("BROKER_HTTP_READ_TIMEOUT", default=10.0)
# Paper accounts: virtual cash a new account starts with unless the user chooses an amount
PAPER_DEFAULT_CASH = env.int("PAPER_DEFAULT_CASH", default=10_000_000)
# Paper fills: commission per side (the engine's default), the largest share of the volume behind a
# price one match may fill (0: no partial fills), and an optional live quote source
# ("module.function" taking a symbol; empty: the newest bar of the bar store)
PAPER_COMMISSION_RATE = env.float("PAPER_COMMISSION_RATE", default=0.00015)
PAPER_MAX_FILL_VOLUME_SHARE = env.float("PAPER_MAX_FILL_VOLUME_SHARE", default=0.1)
PAPER_QUOTE_SOURCE = env.str("PAPER_QUOTE_SOURCE", default="")
# When this share of a broker's checked accounts fail at once (and at least the minimum count),
# trading through that broker is limited: users see a banner and new orders are refused.
BROKER_OUTAGE_FAILURE_SHARE = env.float("BROKER_OUTAGE_FAILURE_SHARE", default=0.5)
BROKER_OUTAGE_MIN_ACCOUNTS = env.int("BROKER_OUTAGE_MIN_ACCOUNTS", default=3)
# The order ledger (trading/orders/). With Redis as the task broker an unacknowledged job is
# delivered again after the visibility timeout (1 h), and a countdown longer than it runs again and
# again: no order job is ever scheduled more than 60 s ahead (trading.orders.tasks caps it). A
# claimed order whose worker gives no answer within the lease is looked up, never resent: the lease
# must exceed the longest wait for an account's request budget (mock accounts: 1 request/s).
ORDER_SUBMIT_LEASE_SECONDS = env.float("ORDER_SUBMIT_LEASE_SECONDS", default=30.0)
ORDER_RELAY_AFTER_SECONDS = env.float("ORDER_RELAY_AFTER_SECONDS", default=5.0)  # a lost enqueue is re-sent
ORDER_RECONCILE_FOLLOW_UP_SECONDS = env.float("ORDER_RECONCILE_FOLLOW_UP_SECONDS", default=5.0)
# An order with an unknown outcome becomes "not placed" only after the day's listing has missed it
# this many times over at least this long (a just-accepted order can lag the listing)
ORDER_NOT_PLACED_MISSES = env.int("ORDER_NOT_PLACED_MISSES", default=3)
ORDER_NOT_PLACED_AFTER_SECONDS = env.float("ORDER_NOT_PLACED_AFTER_SECONDS", default=20.0)
ORDER_MATCH_SKEW_SECONDS = env.float("ORDER_MATCH_SKEW_SECONDS", default=60.0)  # clock skew in listing matches
# a KIS/Kiwoom balance older than this is read again before an order is checked (buying power)
ORDER_BALANCE_MAX_AGE_SECONDS = env.float("ORDER_BALANCE_MAX_AGE_SECONDS", default=60.0)

# ---------------------------------------------------------------------------
# Realtime feeds (trading/realtime/feeds.py; `manage.py run_feeds`, a thread in embedded mode): one
# KIS websocket session per app key (the market-data keys stream the watched symbols, users' keys
# their execution notices); the symbols past the session's registrations are polled, marked delayed
# ---------------------------------------------------------------------------
REALTIME_KIS_MAX_REGISTRATIONS = env.int("REALTIME_KIS_MAX_REGISTRATIONS", default=40)  # KIS allows 41
REALTIME_KIWOOM_MAX_REGISTRATIONS = env.int("REALTIME_KIWOOM_MAX_REGISTRATIONS", default=95)  # unconfirmed
REALTIME_INTEREST_SECONDS = env.float("REALTIME_INTEREST_SECONDS", default=3.0)  # watched symbols read again
REALTIME_POLL_SECONDS = env.float("REALTIME_POLL_SECONDS", default=5.0)  # a delayed symbol's price this often
REALTIME_POLL_PER_SECOND = env.float("REALTIME_POLL_PER_SECOND", default=2.0)  # the poller's own pace
REALTIME_RECONNECT_SECONDS = env.float("REALTIME_RECONNECT_SECONDS", default=1.0)  # back-off: first pause,
REALTIME_RECONNECT_MAX_SECONDS = env.float("REALTIME_RECONNECT_MAX_SECONDS", default=60.0)  # doubling to this
REALTIME_NOTICE_ACCOUNTS_SECONDS = env.float("REALTIME_NOTICE_ACCOUNTS_SECONDS", default=30.0)
REALTIME_FEEDS_EMBEDDED = env.bool("REALTIME_FEEDS_EMBEDDED", default=True)  # embedded mode runs them in-process
# the demo replay of a paper deployment: real seconds one replayed trading day takes
REPLAY_SECONDS_PER_DAY = env.float("REPLAY_SECONDS_PER_DAY", default=6.0)
# the conflict guard's platform-wide cap: the platform's orders in one symbol at one decision time stay
# within this share of the symbol's 20-day average traded value (shared pro rata among the users)
LIVE_PLATFORM_CAP_SHARE = Decimal(env.str("LIVE_PLATFORM_CAP_SHARE", default="0.01"))

# ---------------------------------------------------------------------------
# Backtests: plan limits (per user) and the sweep of runs whose worker died
# ---------------------------------------------------------------------------
BACKTEST_MAX_CONCURRENT_RUNS = env.int("BACKTEST_MAX_CONCURRENT_RUNS", default=3)
BACKTEST_MAX_SYMBOLS = env.int("BACKTEST_MAX_SYMBOLS", default=200)
BACKTEST_MAX_SWEEP_CELLS = env.int("BACKTEST_MAX_SWEEP_CELLS", default=400)
BACKTEST_STALE_SECONDS = env.int("BACKTEST_STALE_SECONDS", default=120)  # no heartbeat for this long: failed
# A finished run's results page and API are answered by the edge cache (core.edge) for this long
# after Django authenticated the credential and rendered them; per process, bounded in bytes.
EDGE_CACHE_SECONDS = env.float("EDGE_CACHE_SECONDS", default=15.0)
EDGE_CACHE_MAX_BYTES = env.int("EDGE_CACHE_MAX_BYTES", default=64 * 1024 * 1024)
CELERY_BEAT_SCHEDULE = {
    "backtests-fail-stale-runs": {"task": "backtests.tasks.fail_stale_runs", "schedule": 60.0},
    # broker connection checks: before the open and hourly in sessions (Asia/Seoul; the task skips
    # days the KRX calendar says are closed)
    "trading-check-accounts-pre-open": {"task": "trading.tasks.check_broker_accounts",
                                        "schedule": crontab(minute=0, hour=8, day_of_week="mon-fri")},
    "trading-check-accounts-hourly": {"task": "trading.tasks.check_broker_accounts",
                                      "schedule": crontab(minute=5, hour="9-15", day_of_week="mon-fri")},
    # resting paper orders against the newest prices (also matched on every price update)
    "trading-paper-match": {"task": "trading.tasks.paper_match_open_orders", "schedule": 60.0},
    # the order ledger: orders still "new" after a lost enqueue are enqueued again; accounts with
    # open or unresolved orders are reconciled every 30 s, and every account after the close
    "trading-orders-relay": {"task": "trading.orders.relay", "schedule": 5.0},
    "trading-orders-reconcile": {"task": "trading.orders.reconcile_due", "schedule": 30.0},
    "trading-orders-reconcile-after-close": {"task": "trading.orders.reconcile_due",
                                             "schedule": crontab(minute="45", hour="15", day_of_week="mon-fri"),
                                             "kwargs": {"every_account": True}},
    "trading-orders-reconcile-evening": {"task": "trading.orders.reconcile_due",
                                         "schedule": crontab(minute="5", hour="18", day_of_week="mon-fri"),
                                         "kwargs": {"every_account": True}},
    # live deployments (trading.live): the runner every 30 s, every day (it asks each deployment's
    # calendar: KRX holidays and weekends decide nothing, crypto-only deployments act daily); the buys
    # waiting for their sells' cash; the daily summaries and the bars' ingest after the close
    "trading-live-runner": {"task": "trading.live.tick", "schedule": 30.0},
    "trading-live-place-waiting": {"task": "trading.live.place_waiting", "schedule": 15.0},
    "trading-live-day-summaries": {"task": "trading.live.day_summaries",
                                   "schedule": crontab(minute="50", hour="15", day_of_week="mon-fri")},
    "marketdata-ingest-bars": {"task": "marketdata.ingest_bars",
                               "schedule": crontab(minute="10", hour="16,18", day_of_week="mon-fri")},
    # the KRX calendar against KIS's chk-holiday (with market-data keys), before the pre-open auction
    "marketdata-calendar-check": {"task": "marketdata.calendar_check", "schedule": crontab(minute="50", hour="7")},
    # Telegram outbox: chats with due messages (lost enqueues, ends of quiet hours and back-offs);
    # operators' alert when Celery's Redis queue backs up
    "notifications-telegram-flush-due": {"task": "notifications.telegram_flush_due", "schedule": 10.0},
    "notifications-ops-check-queues": {"task": "notifications.ops_check_queues", "schedule": 60.0},
    # notification centre: emails held through quiet hours, daily digests at each user's local hour
    "notifications-centre": {"task": "notifications.centre_periodic", "schedule": crontab(minute="*/10")},
    # webhooks: pending deliveries whose next attempt is due (lost retries, a worker that died mid-attempt);
    # finished deliveries older than 30 days deleted
    "notifications-webhook-deliver-due": {"task": "notifications.webhook_deliver_due", "schedule": 30.0},
    "notifications-webhook-prune": {"task": "notifications.webhook_prune", "schedule": crontab(minute=20, hour=4)},
    # backups (database, results, bar store) with retention; 03:30 KST, outside trading and ingest hours
    "core-backup-daily": {"task": "core.backup_run", "schedule": crontab(minute=30, hour=3)},
    # plans: subscriptions past their end move on (next scheduled plan or Free); warnings 7 days and 1 day before
    "coupons-end-due-subscriptions": {"task": "coupons.tasks.end_due_subscriptions", "schedule": crontab(minute=0)},
    "coupons-warn-ending-subscriptions": {"task": "coupons.tasks.warn_ending_subscriptions",
                                          "schedule": crontab(minute=30)},
}

# ---------------------------------------------------------------------------
# API (DRF, drf-spectacular)
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    # JSON bounded in size and nesting (a 10,000-deep body is a 400, not a RecursionError); JSON only:
    # a form body cannot say what the schema's JSON says (a list sent as a form is an empty form)
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "PAGE_SIZE": 50,
    # No filter backend: list filters are django-filter FilterSets inside the selectors (e.g.
    # backtests.selectors.BacktestFilter), one place for pages and API alike, scoped to the owner first.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "coupons.throttles.PlanRateThrottle",  # the user's plan: API requests per minute
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "auth": env.str("API_THROTTLE_AUTH", default="10/min"),
    },
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "NUM_PROXIES": 0,  # throttles key on REMOTE_ADDR (resolved by core.proxies), never on X-Forwarded-For
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": "API for the mobile app: token auth (POST /api/v1/auth/token/), preferences, and more.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "backtests.models.RunStatus",
        "ListingStatusEnum": "marketdata.models.ListingStatus",
        "BrokerKindEnum": "trading.models.BrokerKind",
        "ConnectableBrokerEnum": "trading.forms.REAL_BROKERS",
        "BrokerAccountStatusEnum": "trading.models.AccountStatus",
        "OrderSourceEnum": "trading.orders.models.OrderSource",
        "FillSourceEnum": "trading.orders.models.FillSource",
        "OrderStateEnum": "trading.orders.models.OrderState",
        "DeploymentStateEnum": "trading.live.models.DeploymentState",
    },
}

# ---------------------------------------------------------------------------
# Security (production hardening; `manage.py check --deploy` is clean with it)
# ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): no inline script, style or event handler anywhere; pages keep
# their behaviour in static/js and their looks in static/css (core/tests/test_csp.py checks the
# templates). No nonces: the edge cache (core.edge) answers kept pages with their headers as rendered.
# connect-src 'self' covers the same-origin websocket (/ws/user/) in CSP Level 3 browsers.
# The one hash: the <style> lightweight-charts 5.2.1 inserts for its TradingView attribution logo,
# which its licence asks us to show (the test recomputes it from node_modules).
LIGHTWEIGHT_CHARTS_ATTRIBUTION_STYLE = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", LIGHTWEIGHT_CHARTS_ATTRIBUTION_STYLE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # + Prometheus' scrapes and Alertmanager's webhook inside the compose network (bearer tokens protect both)
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$", r"^ops/alerts/$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------
# Logs (docs/runbook-logs.md): "json" = one JSON object per line (time UTC, level, logger, message, request_id,
# user_id, task, task_id, exception), "plain" = the one-line text format. Secrets are masked in both (scrub filter).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub": {"()": "core.logging.scrub.ScrubFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "core.logging.json_format.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["scrub"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own default handlers (an unscrubbed console in DEBUG, mail_admins) dropped: its lines go
        # once through the root handler, scrubbed; runserver's access lines too (propagate)
        "django": {"level": "INFO"},
        "django.server": {"level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
# Error reports (docs/runbook-logs.md): off unless SENTRY_DSN is set; events scrubbed like the logs
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default=DJANGO_ENV)
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
