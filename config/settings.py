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
"""

from pathlib import Path

from config.env import (
    read_bool,
    read_database,
    read_directory,
    read_existing_file,
    read_list,
    read_positive_int,
    read_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = read_directory("EARSHOT_DATA_DIR", BASE_DIR / "var")
PRODUCTION = read_bool("EARSHOT_PRODUCTION", False)
DEBUG = read_bool("DEBUG", not PRODUCTION)
SECRET_KEY = read_secret_key("SECRET_KEY", DATA_DIR / "secret_key")
ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
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
TORCH_THREADS = read_positive_int("EARSHOT_TORCH_THREADS", None)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "generation",
    "studies",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
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

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "earshot": {"handlers": ["console"], "level": "INFO"},
        "django_tasks": {"handlers": ["console"], "level": "WARNING"},
    },
}
