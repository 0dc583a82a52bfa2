"""CX Hub settings: one module, driven by the environment (see .env.example).

A fresh clone runs with no environment at all: SQLite, tasks run eagerly in-process,
emails printed to the console. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY
and DEBUG=false.
"""

import datetime as dt
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off CX Hub refuses to start without a "
            "secret key: set SECRET_KEY in the environment or in .env."
        )
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production"  # noqa: S105 - DEBUG only
# Rotating SECRET_KEY: the previous keys, still accepted for sessions, password-reset
# links and the erasure suppression list (surveys.Suppression) while they are listed.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "cxhub.views.csrf_failure"
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "axes",
    "cxhub",
    "surveys",
    "feedback",
    "recognition",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cxhub.middleware.reject_nul",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's LocaleMiddleware on the customers' pages only (staff pages stay English).
    "cxhub.middleware.CustomerLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # DEBUG only: a view's 404 shows the product's page, not Django's technical one.
    "cxhub.middleware.PageNotFoundMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cxhub.urls"
WSGI_APPLICATION = "cxhub.wsgi.application"

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
                "cxhub.context_processors.roles",
            ],
        },
    },
]

# Database: PostgreSQL in production and CI, a SQLite file by default.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: measured four times faster on the same endpoint here.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, with a health check skipped on a connection used a moment ago
    # and BEGIN sent with a transaction's first statement (cxhub/db/postgresql/base.py):
    # two round trips less on every busy request.
    DATABASES["default"]["ENGINE"] = "cxhub.db.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Covering indexes (INCLUDE) are a PostgreSQL speed-up; SQLite builds them plain.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the dev server read while the eager tasks write.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env.bool("FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Password guessing (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is locked out for AXES_COOLOFF_MINUTES (the
# login page and the admin's). A correct password resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # no banner on every start; lockouts are still logged
# Reverse proxies in front of gunicorn that append to X-Forwarded-For (0: none, the
# header is ignored): how CX Hub finds a client's address (cxhub.addresses) for the
# lockouts above, the API throttle and the public survey links' limit.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "cxhub.addresses.client_address"
# Answers one address (an IPv6 /64) may give on one touchpoint's public link (kiosks,
# QR codes) in a window: beyond it a polite 429 and nothing recorded, so a script
# cannot flood a touchpoint's NPS or its team's queue with detractor cases. Empty: not
# counted (one Redis round trip less per answer) where a proxy in front limits already.
PUBLIC_SURVEY_RATE = env.str("PUBLIC_SURVEY_RATE", default="30/min")

# Time: days and weeks are cut in this zone (rollups, dashboards).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: printed to the console unless EMAIL_URL says otherwise.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CX Hub <cx@example.com>")
# Seconds an SMTP server may take to answer (Django's default is to wait forever, and a
# silent server would hold a worker, and the email it claimed, for good).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# Redis: broker for Celery and shared cache. Without it, tasks run eagerly.
REDIS_URL = env.str("REDIS_URL", default="")
_redis_timeouts = {"socket_timeout": 2, "socket_connect_timeout": 2}

CACHES = {
    "default": env.cache(
        "CACHE_URL", default=REDIS_URL.replace("redis://", "rediscache://", 1) or "locmemcache://"
    )
}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"].setdefault("OPTIONS", {}).update(_redis_timeouts)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A Redis that accepts connections but never answers would block .delay() for 45 s+.
# Publishing does not retry either (kombu would sleep 2 s before a second attempt): a
# failed publish is logged and left to the sweepers.
CELERY_BROKER_TRANSPORT_OPTIONS = {**_redis_timeouts, "visibility_timeout": 3600, "max_retries": 0}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast: the request has already saved its data, a sweeper catches up.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "rollups-reconcile-hourly": {
        "task": "surveys.tasks.rollups_reconcile",
        "schedule": 60 * 60,
    },
    # CSV imports whose task message was lost, or whose worker died mid-run.
    "response-imports-resume": {
        "task": "surveys.tasks.response_imports_resume",
        "schedule": 5 * 60,
    },
    "invitations-send-due": {
        "task": "surveys.tasks.invitations_send_due",
        "schedule": 60,
    },
    "cases-escalate-overdue": {
        "task": "feedback.tasks.cases_escalate_overdue",
        "schedule": 5 * 60,
    },
    "cases-assign-sweep": {
        "task": "feedback.tasks.cases_assign_sweep",
        "schedule": 5 * 60,
    },
    # Assignment and escalation emails whose task message was lost.
    "cases-notify-sweep": {
        "task": "feedback.tasks.cases_notify_sweep",
        "schedule": 5 * 60,
    },
    # The weekly digest of the last complete week: first on Monday at 07:00 (TIME_ZONE,
    # CELERY_TIMEZONE), then every hour of the day, which sends only what is still owed
    # (a failed send, or the whole run if its message was lost); each is sent once.
    "digests-weekly": {
        "task": "cxhub.tasks.digests_send_weekly",
        "schedule": crontab(hour="7-20", minute=0),
    },
    "alerts-redeliver": {
        "task": "cxhub.tasks.alerts_redeliver",
        "schedule": 5 * 60,
    },
    "webhooks-redeliver": {
        "task": "cxhub.tasks.webhooks_redeliver",
        "schedule": 60,
    },
    "postcards-notify-sweep": {
        "task": "recognition.tasks.postcards_notify_sweep",
        "schedule": 5 * 60,
    },
    "shoutouts-suggest-sweep": {
        "task": "recognition.tasks.shoutouts_suggest_sweep",
        "schedule": 60 * 60,
    },
    "postcard-counters-rebuild": {
        "task": "recognition.tasks.postcard_counters_rebuild",
        "schedule": crontab(hour=3, minute=30),
    },
    "nps-breaches-check": {
        "task": "cxhub.tasks.nps_breaches_check",
        "schedule": 60 * 60,
    },
    # Webhook and team-alert logs past DELIVERY_LOG_RETENTION_DAYS.
    "delivery-logs-prune": {
        "task": "cxhub.tasks.delivery_logs_prune",
        "schedule": crontab(hour=4, minute=15),
    },
}
# Days the webhook and team-alert delivery logs keep a sent or failed delivery (pending
# ones stay until they are done). They quote customers' answers: kept no longer than
# they help to debug a receiver.
DELIVERY_LOG_RETENTION_DAYS = env.int("DELIVERY_LOG_RETENTION_DAYS", default=90)

# Surveys
SURVEY_QUIET_PERIOD_DAYS = env.int("SURVEY_QUIET_PERIOD_DAYS", default=30)
SURVEY_LINK_VALID_DAYS = env.int("SURVEY_LINK_VALID_DAYS", default=30)
SURVEY_COMMENT_MAX_LENGTH = 5000
# Delighted-compatible /v1/: the touchpoint (slug) of people and responses whose
# properties name none; blank: the oldest active touchpoint.
DELIGHTED_DEFAULT_TOUCHPOINT = env.str("DELIGHTED_DEFAULT_TOUCHPOINT", default="")
# Customer Champion postcards one person may send per day.
POSTCARD_DAILY_CAP = env.int("POSTCARD_DAILY_CAP", default=5)
# Seconds a rollup recompute waits so a burst of responses costs one recompute.
ROLLUP_DEBOUNCE_SECONDS = env.int("ROLLUP_DEBOUNCE_SECONDS", default=2)
# Seconds the shout-out matching waits so a burst of promoter comments costs one task.
SHOUTOUT_DEBOUNCE_SECONDS = env.int("SHOUTOUT_DEBOUNCE_SECONDS", default=3)

# Outgoing HTTP (team alerts, webhooks) goes only to public internet addresses: a URL
# whose host resolves to a loopback, private, link-local (cloud metadata), unique-local…
# address is refused when saved and when delivered (cxhub/outbound.py). Self-hosters
# with internal receivers allow all of them, or list hosts, addresses or networks
# (e.g. "hooks.internal,10.1.2.3,10.8.0.0/16") that are always allowed.
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", default=False)
OUTBOUND_ALLOWED_HOSTS = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])

# REST API (/api/ native, /v1/ Delighted-compatible). API keys (Bearer) first, so an
# anonymous call gets 401 with WWW-Authenticate; staff sessions work too.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cxhub.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cxhub.api.ScopePermission"],
    "DEFAULT_PAGINATION_CLASS": "cxhub.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cxhub.api.JSONParser"],
    "EXCEPTION_HANDLER": "cxhub.api.exception_handler",
    # Per view `throttle_scope`, per API key (or user, or IP), fixed one-minute windows.
    "DEFAULT_THROTTLE_CLASSES": ["cxhub.api.ApiThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api": env.str("API_THROTTLE_RATE", default="1200/min"),
        "api_batch": env.str("API_BATCH_THROTTLE_RATE", default="120/min"),
        # For the Delighted-compatible /v1/ views (throttle_scope = "v1").
        "v1": env.str("V1_THROTTLE_RATE", default="1200/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # ?format= picks a renderer the view has (the schema's json or yaml); another value
    # is ignored, as Delighted ignores what it does not know (DRF answered 404).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "cxhub.api.ContentNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CX Hub API",
    "DESCRIPTION": (
        "Net Promoter Score surveys, responses, metrics and follow-up. Authenticate with "
        "`Authorization: Bearer <API key>` (keys are created by CX admins in the admin, with "
        "a scope: read, write or admin) or a staff session. Errors are "
        '`{"status": 400, "message": "...", "errors": {"field": ["..."]}}`; 429 carries '
        "Retry-After."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Production hardening: `manage.py check --deploy` passes with DEBUG off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Lockouts are warnings; its info lines (every login's reset) are noise.
        "axes": {"level": "WARNING"},
    },
}
