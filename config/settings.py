"""Django settings. Secrets and the school's configuration come from the environment."""

import os
from pathlib import Path

import dj_database_url

from config import school
from config.school import files

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()

DEBUG = school.env_bool("DJANGO_DEBUG")


def _local_secret_key() -> str:
    """A key kept in the data directory (mode 0600) when the environment gives none."""
    import secrets

    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret_key()

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# The site's own address as staff reach it (for example https://social.aycliffe.kent.sch.uk): each
# email links to the page it is about.
SITE_ADDRESS = os.environ.get("SITE_ADDRESS", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.syndication",
    "django_filters",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
    "config.school",
    "moderation",
    "consent",
    "connectors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (styles, the face-marking script) from the application itself, under any WSGI
    # server: compressed, with hashed names cached for a year.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Each request sees one school's data only: its person's school, or none for a visitor.
    "config.school.middleware.SchoolMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "moderation.accounts.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its own answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before the password is checked
    # Django's password check; permissions from the roles held in the school the work is for.
    "config.school.backends.SchoolRolesBackend",
]
# Failed logins: after AXES_FAILURE_LIMIT failures for one username (from anywhere) or from one
# address, further attempts are refused for AXES_COOLOFF_MINUTES. `python manage.py
# axes_reset_username USERNAME` lifts it at once.
from datetime import timedelta  # noqa: E402

AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", 30)))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind a reverse proxy: its addresses or networks, comma-separated (for example
# "127.0.0.1,10.0.0.0/8"). Requests from them are taken to come from the address they forward in
# X-Forwarded-For (the reports of concern's limit and failed logins count per client, not per
# proxy). Empty: REMOTE_ADDR is the client, and X-Forwarded-For is ignored.
TRUSTED_PROXIES = tuple(p.strip() for p in os.environ.get("TRUSTED_PROXIES", "").split(",") if p.strip())
AXES_CLIENT_IP_CALLABLE = "moderation.aftercare.addresses.client_address"

ROOT_URLCONF = "config.urls"

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
                "moderation.context_processors.school",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's PostgreSQL backend telling the database which school's rows each query may see
    # (config/school/wall.py: row-level security, the second wall between schools).
    DATABASES["default"]["ENGINE"] = "config.db"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file. Write-ahead logging lets pages read
    # while the worker writes; a write transaction takes the lock when it begins (so two writers
    # queue instead of failing with "database is locked" half-way), and waits up to 20 s for it.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Backups (moderation/upkeep/backup.py) keep times to the microsecond, as the audit chain's hashes need.
SERIALIZATION_MODULES = {"exact_json": "moderation.upkeep.exact_json"}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# A session ends after SESSION_IDLE_MINUTES without a request, and when the browser closes.
SESSION_COOKIE_AGE = 60 * int(os.environ.get("SESSION_IDLE_MINUTES", 30))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# --- Production: DJANGO_SECURE=true behind HTTPS (see the README) ---------------------------
SECURE = school.env_bool("DJANGO_SECURE")
if SECURE:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if school.env_bool("DJANGO_BEHIND_PROXY"):
        # The proxy terminates HTTPS and says so in this header (and must strip it from clients).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy: only the product's own scripts, styles and media. Style attributes in
# the templates need 'unsafe-inline' for styles (never for scripts). Connecting YouTube from the
# channel's page sends the headteacher on to Google's consent page.
from csp.constants import NONE, SELF, UNSAFE_INLINE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "media-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://accounts.google.com"],
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
# In production (DEBUG off) the files are collected into STATIC_ROOT with hashed names
# (`python manage.py collectstatic`, a step of the README's deployment) and served by WhiteNoise.
# Under `make run` (DEBUG) the files are served as they are, from static/.
WHITENOISE_USE_FINDERS = DEBUG
# The school's files (config/school/files.py): the uploaded originals, the published copies of
# videos made for the approver (kept until published or changed), and the copies that were
# published. None is under a public URL: they are served only through views that check who asks.
UPLOAD_DIR = DATA_DIR / "uploads"
PREVIEW_DIR = DATA_DIR / "copies"
PUBLISHED_DIR = DATA_DIR / "published"
# On the local disk by default. For web servers and workers on several machines, in one bucket of
# S3-compatible object storage (django-storages' S3Storage), a folder for each kind of file
# (files.storage_settings). The credentials come as boto3 finds them: AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, or the machine's role.
FILES_S3_BUCKET = os.environ.get("FILES_S3_BUCKET", "")
FILES_S3_ENDPOINT_URL = os.environ.get("FILES_S3_ENDPOINT_URL", "") or None  # for storage other than Amazon's
FILES_S3_REGION = os.environ.get("FILES_S3_REGION", "") or None
FILES_S3_ENCRYPTION = os.environ.get("FILES_S3_ENCRYPTION", "AES256")
# Files fetched from the bucket for pixel work, on each machine; deleted once unused this long.
WORK_DIR = Path(os.environ.get("WORK_DIR", DATA_DIR / "work")).resolve()
WORK_FILES_HOURS = float(os.environ.get("WORK_FILES_HOURS", 6))


STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    **{area: files.storage_settings(folder, area, files.FILE_MODES[area], bucket=FILES_S3_BUCKET, endpoint_url=FILES_S3_ENDPOINT_URL,
                                    region=FILES_S3_REGION, encryption=FILES_S3_ENCRYPTION)
       for area, folder in ((files.UPLOADS, UPLOAD_DIR), (files.COPIES, PREVIEW_DIR), (files.PUBLISHED, PUBLISHED_DIR))},
}

OUTBOX_DIR = Path(os.environ.get("OUTBOX_DIR", DATA_DIR / "outbox")).resolve()

MEDIA_MAX_BYTES = int(os.environ.get("MEDIA_MAX_BYTES", 200 * 1024 * 1024))
MEDIA_MAX_PIXELS = int(os.environ.get("MEDIA_MAX_PIXELS", 50_000_000))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Every upload is written to a temporary file, and reading stops past MEDIA_MAX_BYTES.
FILE_UPLOAD_HANDLERS = ["moderation.drafts.uploads.LimitedUploadHandler"]

SCHOOL = school.load()
# The name authenticator apps show beside the code.
OTP_TOTP_ISSUER = SCHOOL.name

# Face encodings are encrypted with this key (Fernet). From the environment in production;
# otherwise a key file that `make run` creates with mode 0600.
FACE_KEY = os.environ.get("FACE_ENCRYPTION_KEY", "")
FACE_KEY_FILE = Path(os.environ.get("FACE_ENCRYPTION_KEY_FILE", DATA_DIR / "face.key"))

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# For django.core.mail.backends.smtp.EmailBackend: the school's mail server.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = school.env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The scheduler's and the task runner's own lines for every job and task would drown the
    # worker's log; their errors (a task that failed, with its traceback) still show.
    "loggers": {"apscheduler": {"level": "WARNING"}, "django_tasks": {"level": "WARNING"}, "django_tasks_db": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- Consent register import ------------------------------------------------------------
# Column profiles: profile name -> {our field: the column heading in the MIS export}. A school
# adds its own in a JSON file of the same shape named by REGISTER_PROFILES_FILE (see
# consent/profiles.py for the fields). The largest CSV the register page accepts.
REGISTER_PROFILES = {
    "default": {
        "upn": "UPN",
        "legal_forename": "Legal Forename",
        "legal_surname": "Legal Surname",
        "preferred_forename": "Preferred Forename",
        "year_group": "Year",
        "facebook_consent": "Facebook Consent",
        "youtube_consent": "YouTube Consent",
        "consent_date": "Consent Date",
        "consent_expires": "Consent Expires",
        "biometric_consent": "Biometric Consent",
        "objects_to_biometrics": "Objects To Biometrics",
    },
}
REGISTER_PROFILES_FILE = os.environ.get("REGISTER_PROFILES_FILE", "")
REGISTER_UPLOAD_MAX_BYTES = int(os.environ.get("REGISTER_UPLOAD_MAX_BYTES", 2 * 1024 * 1024))
# --- end of consent register import -----------------------------------------------------

# Uploaded files are analysed (faces found, words read) by `python manage.py run_worker`;
# "inline" analyses them in the web request instead.
MEDIA_ANALYSIS = os.environ.get("MEDIA_ANALYSIS", "background")

# Background work runs as tasks on Django's Tasks API (moderation/upkeep/tasks.py). The default
# keeps them in this database, run by `python manage.py run_worker`: nothing more to install.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        # analysis and copies: the slow work on pictures; publishing and rounds: what must not wait behind it.
        "QUEUES": ["analysis", "copies", "publishing", "rounds"],
    },
}
# With TASKS_BACKEND=django_tasks_rq.RQBackend the same tasks wait in Redis (RQ) instead, for
# worker processes on many machines. A task may run this long (a long video's analysis).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# "default" is the connection django-rq reads tasks' results through (the clock asks whether its
# last round still waits).
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for name in [*TASKS["default"]["QUEUES"], "default"]}
if TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend":
    INSTALLED_APPS.append("django_rq")  # the backend's check asks for it
# The record of each task that ended (which worker ran it, when, what it returned) is kept this long.
TASK_RECORDS_DAYS = int(os.environ.get("TASK_RECORDS_DAYS", 7))
# Fair turns between schools for the work on pictures (moderation/upkeep/tasks.py, in_turn); off:
# first in, first out, whichever school it is.
TASKS_FAIR_TURNS = school.env_bool("TASKS_FAIR_TURNS", True)

# --- Platforms ---------------------------------------------------------------------------
# Every call to a platform gives up after this many seconds (an upload's chunk included).
CONNECTOR_TIMEOUT = float(os.environ.get("CONNECTOR_TIMEOUT", 60))
# A post that waits for its platform (a rate limit, an outage) is tried again after this many
# minutes, then twice as long each time, up to PUBLISH_RETRY_MAX_MINUTES.
PUBLISH_RETRY_MINUTES = int(os.environ.get("PUBLISH_RETRY_MINUTES", 5))
PUBLISH_RETRY_MAX_MINUTES = int(os.environ.get("PUBLISH_RETRY_MAX_MINUTES", 6 * 60))
# A publish whose worker has not been heard of for this long is taken to have died with it.
PUBLISH_STALE_MINUTES = int(os.environ.get("PUBLISH_STALE_MINUTES", 15))
# The photos and videos of a draft that is never published are deleted after this many days
# without anything happening to it (its author is warned a week before).
DRAFT_RETENTION_DAYS = int(os.environ.get("DRAFT_RETENTION_DAYS", 30))
# `/health/` fails when the data folder has less free space than this.
HEALTH_MIN_FREE_MB = int(os.environ.get("HEALTH_MIN_FREE_MB", 1024))
# Connections are checked when the last check is older than this.
CONNECTION_CHECK_HOURS = int(os.environ.get("CONNECTION_CHECK_HOURS", 24))

# The worker's schedule (moderation/upkeep/worker.py). Scheduled drafts are read from the database again
# every SCHEDULE_SYNC_SECONDS; comments on posts of the last COMMENT_MONITOR_DAYS are read every
# COMMENT_CHECK_MINUTES.
SCHEDULE_SYNC_SECONDS = int(os.environ.get("SCHEDULE_SYNC_SECONDS", 30))
COMMENT_CHECK_MINUTES = int(os.environ.get("COMMENT_CHECK_MINUTES", 15))
COMMENT_MONITOR_DAYS = int(os.environ.get("COMMENT_MONITOR_DAYS", 60))
# Section 7: the policy and each channel's risk assessment are reviewed every 12 months
# (SCHOOL.risk_assessment_months); the headteacher is reminded REVIEW_REMINDER_DAYS ahead.
REVIEW_REMINDER_DAYS = int(os.environ.get("REVIEW_REMINDER_DAYS", 30))
# Reports of concern from the news page: at most this many an hour from one address. More than
# CONCERNS_FLOOD_PER_HOUR in an hour from everyone is a flood: every report is still kept, but the
# DSL and the headteacher get one email for the flood, a banner, and can close it in one step.
CONCERNS_PER_HOUR_PER_SENDER = int(os.environ.get("CONCERNS_PER_HOUR_PER_SENDER", 5))
CONCERNS_FLOOD_PER_HOUR = int(os.environ.get("CONCERNS_FLOOD_PER_HOUR", 20))

FACEBOOK_GRAPH_URL = os.environ.get("FACEBOOK_GRAPH_URL", "https://graph.facebook.com/")
FACEBOOK_GRAPH_VERSION = os.environ.get("FACEBOOK_GRAPH_VERSION", "v25.0")
FACEBOOK_APP_ID = os.environ.get("FACEBOOK_APP_ID", "")
FACEBOOK_APP_SECRET = os.environ.get("FACEBOOK_APP_SECRET", "")
# After an unclear answer to a publish, how long the Page may take to show the post before the
# connector concludes that it did not go out and sends it again.
FACEBOOK_RECONCILE_MINUTES = int(os.environ.get("FACEBOOK_RECONCILE_MINUTES", 10))

# For connecting YouTube from the channel's page: an OAuth client of the "Web application" type whose
# redirect address is https://<this site>/connection/youtube/done/ (the command needs a Desktop one).
GOOGLE_OAUTH_CLIENT_FILE = os.environ.get("GOOGLE_OAUTH_CLIENT_FILE", "")
GOOGLE_TOKEN_URI = os.environ.get("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token")
YOUTUBE_API_URL = os.environ.get("YOUTUBE_API_URL", "https://www.googleapis.com/")
YOUTUBE_NOTIFY_SUBSCRIBERS = os.environ.get("YOUTUBE_NOTIFY_SUBSCRIBERS", "").lower() in {"1", "true", "yes"}
YOUTUBE_DAILY_QUOTA = int(os.environ.get("YOUTUBE_DAILY_QUOTA", 10_000))
# videos.insert has a bucket of its own: calls a day (Google's default is 100).
YOUTUBE_DAILY_UPLOADS = int(os.environ.get("YOUTUBE_DAILY_UPLOADS", 100))
# Resumable upload chunks: a multiple of 256 KiB.
YOUTUBE_UPLOAD_CHUNK_BYTES = int(os.environ.get("YOUTUBE_UPLOAD_CHUNK_BYTES", 8 * 1024 * 1024))
YOUTUBE_CATEGORY_ID = os.environ.get("YOUTUBE_CATEGORY_ID", "27")  # Education
