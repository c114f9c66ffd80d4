"""The one settings module. Everything deployment-specific comes from the environment.

Variables (all optional):
    DATABASE_URL       e.g. postgres://user:pass@host:5432/earshot; default SQLite under EARSHOT_DATA_DIR
    SECRET_KEY         at least 32 characters; default generated once into EARSHOT_DATA_DIR/secret_key
    DEBUG              boolean; default on (the demo) and off when EARSHOT_PRODUCTION is on
    ALLOWED_HOSTS      comma-separated; default localhost names
    EARSHOT_DATA_DIR   absolute path for the database, media and caches; default ./var
    EARSHOT_SOUNDFONT  a General MIDI .sf2 file; default Debian's fluid-soundfont-gm
    EARSHOT_CHROMIUM   the Chromium binary that prints PDF reports; default /usr/bin/chromium
    EARSHOT_MODEL_FAMILIES  comma-separated dotted paths of extra model families (see generation/zoo)
    EARSHOT_TORCH_THREADS   threads for training and sampling; default all cores
    EARSHOT_DEVICE     where models train, sample and evaluate when a run names none: auto
                       (CUDA, then Apple MPS, then the CPU), cpu, cuda, cuda:N or mps; default auto
    EARSHOT_PRODUCTION      boolean; `make serve` sets it: DEBUG off, compressed hashed static files
    EARSHOT_HTTPS      boolean; the site is reached over HTTPS through a proxy that sets
                       X-Forwarded-Proto: cookies become Secure, plain HTTP is redirected
    EARSHOT_HSTS_SECONDS    Strict-Transport-Security max-age (needs EARSHOT_HTTPS); default 0 = off
    CSRF_TRUSTED_ORIGINS    comma-separated origins (https://study.example.org) behind a proxy
    EARSHOT_CLIENT_IP_HEADER  the header a trusted proxy puts the client address in
                       (X-Real-IP); default: the connection's address
    EARSHOT_RATE_LIMIT_PER_MINUTE   requests one participant may send per minute; default 240
    EARSHOT_JOINS_PER_HOUR  new participants one address may start per hour; default 120
    EARSHOT_LOGIN_FAILURE_LIMIT  wrong passwords before an account, and the address they came
                       from, are locked out; default 5
    EARSHOT_LOGIN_LOCKOUT_MINUTES  how long a lockout lasts; default 15
    EARSHOT_RATE_LIMIT_STORE  where rate-limit counts live: database (shared by every web
                       machine; the default on PostgreSQL) or cache (this machine's cache
                       folder; the default on SQLite, where a write per page would queue)
    EARSHOT_MAX_UPLOAD_MB   the largest request body accepted (uploads); default 20
    EARSHOT_WORKER_STALE_SECONDS  a job worker silent this long is taken for dead; default 60
    SENTRY_DSN         send unhandled errors to Sentry too (pip install 'earshot[sentry]')
    EARSHOT_X_ACCEL_PREFIX  an nginx internal location aliased to MEDIA_ROOT (/protected-media/):
                       audio is then sent by nginx; default: by the Python workers
"""

from datetime import timedelta
from pathlib import Path

from config.env import (
    read_bool,
    read_choice,
    read_database,
    read_device,
    read_directory,
    read_existing_file,
    read_list,
    read_non_negative_int,
    read_positive_int,
    read_secret_key,
    read_text,
    refuse_debug_on_public_hosts,
)
from config.logs import start_sentry

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = read_directory("EARSHOT_DATA_DIR", BASE_DIR / "var")
PRODUCTION = read_bool("EARSHOT_PRODUCTION", False)
DEBUG = read_bool("DEBUG", not PRODUCTION)
SECRET_KEY = read_secret_key("SECRET_KEY", DATA_DIR / "secret_key")
ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
refuse_debug_on_public_hosts(DEBUG, ALLOWED_HOSTS)
SOUNDFONT_PATH = read_existing_file(
    "EARSHOT_SOUNDFONT", Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
)
CHROMIUM_PATH = read_existing_file("EARSHOT_CHROMIUM", Path("/usr/bin/chromium"))
# Parsed, quantized pieces keyed by source file content: the slow music21 parse happens once.
PARSE_CACHE_DIR = DATA_DIR / "cache" / "parsed"
# Model weights and generated MIDI stay outside MEDIA_ROOT: nothing there is for participants.
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
SAMPLE_DIR = DATA_DIR / "samples"
MODEL_FAMILIES = read_list("EARSHOT_MODEL_FAMILIES", [])
HTTPS = read_bool("EARSHOT_HTTPS", False)
HSTS_SECONDS = read_non_negative_int("EARSHOT_HSTS_SECONDS", 0)
if HSTS_SECONDS and not HTTPS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("EARSHOT_HSTS_SECONDS needs EARSHOT_HTTPS=true.")
CSRF_TRUSTED_ORIGINS = read_list("CSRF_TRUSTED_ORIGINS", [])
CLIENT_IP_HEADER = read_text("EARSHOT_CLIENT_IP_HEADER")
RATE_LIMIT_PER_MINUTE = read_positive_int("EARSHOT_RATE_LIMIT_PER_MINUTE", 240)
JOINS_PER_HOUR = read_positive_int("EARSHOT_JOINS_PER_HOUR", 120)
MAX_UPLOAD_BYTES = read_positive_int("EARSHOT_MAX_UPLOAD_MB", 20) * 1024 * 1024
X_ACCEL_PREFIX = read_text("EARSHOT_X_ACCEL_PREFIX")
# A job worker silent this long is taken for dead, and its job is retried by another.
WORKER_STALE_SECONDS = read_positive_int("EARSHOT_WORKER_STALE_SECONDS", 60)
TORCH_THREADS = read_positive_int("EARSHOT_TORCH_THREADS", None)
DEVICE = read_device("EARSHOT_DEVICE", "auto")

INSTALLED_APPS = [
    "config.admin_site.EarshotAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # The widget templates, for config.forms.SiteFormRenderer.
    "django.forms",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "generation",
    "studies",
    "metrics",
]

MIDDLEWARE = [
    "config.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "config.security.RequestSizeLimitMiddleware",
    "config.security.PrivateDownloadsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
FORM_RENDERER = "config.forms.SiteFormRenderer"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": read_database("DATABASE_URL", DATA_DIR / "earshot.sqlite3")}
# The tally files of EARSHOT_RATE_LIMIT_STORE=cache (studies/throttle.py).
RATE_LIMIT_DIR = DATA_DIR / "cache" / "rate-limits"
RATE_LIMIT_STORE = read_choice(
    "EARSHOT_RATE_LIMIT_STORE",
    ["database", "cache"],
    "cache" if DATABASES["default"]["ENGINE"].endswith("sqlite3") else "database",
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Training has its own queue, so that a GPU machine can run `run_worker --queue training`
# while the web machines' workers take the rest (rendering, study builds, reports).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "training"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generation:home"

# Login lockout (django-axes): after EARSHOT_LOGIN_FAILURE_LIMIT wrong passwords an account is
# locked, and separately so is the address they came from, for EARSHOT_LOGIN_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = read_positive_int("EARSHOT_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=read_positive_int("EARSHOT_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.security.client_address"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429

LANGUAGE_CODE = "en-us"
# Participant pages speak the study's language (studies.design.LANGUAGES); the
# experimenters' pages stay in English.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "studies" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at every request when it is missing
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Processes on one machine share this cache (cached reports and comparisons).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache" / "django"),
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "config.security.csrf_failure"
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Nothing about the study page travels to the next site (a crowdsourcing platform included).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Scripts only from this site's own files: no inline script can run, injected or not.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = HSTS_SECONDS
# Django's own form limits; whole uploads are capped by RequestSizeLimitMiddleware.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logs.RequestIdFilter"}},
    "formatters": {
        "with_request": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "errors": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "with_request",
        },
    },
    "loggers": {
        "earshot": {"handlers": ["console"], "level": "INFO"},
        "django_tasks": {"handlers": ["console"], "level": "WARNING"},
        # Unhandled errors with their tracebacks, DEBUG or not (Django's default only mails).
        "django.request": {"handlers": ["errors"], "level": "ERROR", "propagate": False},
    },
}
SENTRY_DSN = read_text("SENTRY_DSN", "")
start_sentry(SENTRY_DSN, "production" if PRODUCTION else "development")
