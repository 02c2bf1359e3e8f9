"""Django settings, all read from environment variables (see docs/configuration.md)."""
from pathlib import Path

from agent.testruns.confine import default_memory_mb
from factory_site.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_identifier,
    env_int,
    env_list,
    env_log_level,
    env_model_name,
    env_model_names,
    env_parallel,
    env_path,
    env_paths,
    env_proxy_ssl_header,
    env_str,
    env_url,
    env_urls,
    persistent_secret,
    private_cluster_url,
    saved_cluster_port,
)
from lib.languages import BM25_LANGUAGES, DEFAULT_LANGUAGE

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000")

# HTTPS is off by default so `make run` serves plain http on localhost. FACTORY_HTTPS=1 when the factory is reached
# over HTTPS only (itself or behind a proxy that ends TLS): cookies only over HTTPS, http redirected, HSTS.
FACTORY_HTTPS = env_bool("FACTORY_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = FACTORY_HTTPS
SECURE_SSL_REDIRECT = env_bool("FACTORY_SSL_REDIRECT", FACTORY_HTTPS)
SECURE_HSTS_SECONDS = env_int("FACTORY_HSTS_SECONDS", 31_536_000 if FACTORY_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FACTORY_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("FACTORY_HSTS_PRELOAD", True)
# Behind a proxy that ends TLS, the header it sets to `https` (X-Forwarded-Proto): only when the proxy always
# sets or strips it, or any client could claim HTTPS.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("FACTORY_PROXY_SSL_HEADER")
# Served over plain http on purpose (`make run` on localhost, a private network): HSTS, the redirect and
# secure-only cookies would lock every browser out, so `check --deploy` is not asked to want them then.
SILENCED_SYSTEM_CHECKS = [] if FACTORY_HTTPS else ["security.W004", "security.W008", "security.W012", "security.W016"]

FACTORY_DATA_DIR = env_path("FACTORY_DATA_DIR", BASE_DIR / "var")
# Without DJANGO_SECRET_KEY a random key is made once and kept in FACTORY_DATA_DIR,
# so `make run` needs no configuration and no install shares a known key.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "") or persistent_secret(FACTORY_DATA_DIR / "secret-key")
FACTORY_URL = env_url("FACTORY_URL", "http://127.0.0.1:8000")
OLLAMA_HOST = env_url("OLLAMA_HOST", "http://127.0.0.1:11434")
# Several Ollama servers (comma-separated); empty: OLLAMA_HOST alone. agent/core/hosts.py picks one per request.
FACTORY_OLLAMA_HOSTS = env_urls("FACTORY_OLLAMA_HOSTS", "")
# Seconds an unreachable model host is skipped before it is tried again.
FACTORY_HOST_RETRY_S = env_float("FACTORY_HOST_RETRY_S", 30.0, minimum=0.0)
# The Ollama server of the embedding model; empty: the first of FACTORY_OLLAMA_HOSTS, else OLLAMA_HOST.
FACTORY_EMBED_HOST = env_url("FACTORY_EMBED_HOST", "")
FACTORY_MODEL = env_model_name("FACTORY_MODEL", "qwen2.5-coder:14b")
FACTORY_EMBED_MODEL = env_model_name("FACTORY_EMBED_MODEL", "nomic-embed-text")
FACTORY_EMBED_DIM = env_int("FACTORY_EMBED_DIM", 768, minimum=8)
FACTORY_EMBED_TIMEOUT = env_float("FACTORY_EMBED_TIMEOUT", 10.0, minimum=0.1)
QDRANT_URL = env_url("QDRANT_URL", "")
# This process owns the embedded memory index for the others, taking it from its owner at its first use (the web server).
FACTORY_MEMORY_OWNER = env_bool("FACTORY_MEMORY_OWNER", False)
# Stemmer and stop words of the memory's keyword search (BM25); a project may override it.
FACTORY_MEMORY_LANGUAGE = env_choice("FACTORY_MEMORY_LANGUAGE", DEFAULT_LANGUAGE, BM25_LANGUAGES)
FACTORY_NUM_CTX = env_int("FACTORY_NUM_CTX", 16384, minimum=2048)
FACTORY_TEMPERATURE = env_float("FACTORY_TEMPERATURE", 0.2)
FACTORY_MODEL_TIMEOUT = env_float("FACTORY_MODEL_TIMEOUT", 900.0, minimum=1.0)
# A model answer that breaks (stream cut, 5xx, timeout) is asked again this many times, pausing
# FACTORY_MODEL_RETRY_BACKOFF_S, then twice that...; then the ticket waits as for an unreachable model.
FACTORY_MODEL_RETRIES = env_int("FACTORY_MODEL_RETRIES", 2, minimum=0, maximum=10)
FACTORY_MODEL_RETRY_BACKOFF_S = env_float("FACTORY_MODEL_RETRY_BACKOFF_S", 5.0, minimum=0.0)
FACTORY_MAX_ATTEMPTS = env_int("FACTORY_MAX_ATTEMPTS", 3, minimum=1, maximum=10)
# Answers requested at once for each attempt (each checked in its own worktree; the first green wins).
FACTORY_CANDIDATES = env_int("FACTORY_CANDIDATES", 1, minimum=1, maximum=8)
# Sizes an attempt may leave (its answer's files and what the tests made of them); past them it is the model's failure.
FACTORY_MAX_FILE_KB = env_int("FACTORY_MAX_FILE_KB", 1024, minimum=1)
FACTORY_MAX_CHANGE_KB = env_int("FACTORY_MAX_CHANGE_KB", 4096, minimum=1)
# The diff kept with a ticket and each attempt is a preview this big; pages read the rest from git on demand.
FACTORY_STORED_DIFF_KB = env_int("FACTORY_STORED_DIFF_KB", 256, minimum=16)
# Models tried, in order, after FACTORY_MODEL's run ends without success (comma-separated; empty: none).
FACTORY_ESCALATION = tuple(env_model_names("FACTORY_ESCALATION", ""))
FACTORY_TEST_TIMEOUT = env_int("FACTORY_TEST_TIMEOUT", 600, minimum=1)
# `on` (or `auto`): model-written code runs only inside the sandbox; `off`: unsandboxed, by explicit choice.
FACTORY_SANDBOX = env_choice("FACTORY_SANDBOX", "on", ("on", "auto", "off"))
# Extra host folders shown read-only inside the sandbox (toolchains and their caches: JDK, Go, ~/.m2 ...).
FACTORY_SANDBOX_READONLY = env_paths("FACTORY_SANDBOX_READONLY")
# Where the minimal runner (a virtualenv with pytest alone, agent/testruns/runner.py) is built once.
FACTORY_RUNNERS_DIR = env_path("FACTORY_RUNNERS_DIR", FACTORY_DATA_DIR / "runners")
# When the base commit's full suite took less than this, the scoped run is skipped: the full suite is as quick.
FACTORY_SCOPED_RUN_MIN_S = env_float("FACTORY_SCOPED_RUN_MIN_S", 10.0)
# A run starts only with this much free on the filesystems of FACTORY_DATA_DIR and the temporary folder;
# a ticket stopped by a full disk waits (pending) until there is again.
FACTORY_MIN_FREE_MB = env_int("FACTORY_MIN_FREE_MB", 1024, minimum=0)
# Kernel caps on each run of model-written code (setup, baseline, every test run), see agent/testruns/confine.py.
FACTORY_SANDBOX_MEMORY_MB = env_int("FACTORY_SANDBOX_MEMORY_MB", default_memory_mb(), minimum=64)
FACTORY_SANDBOX_PIDS = env_int("FACTORY_SANDBOX_PIDS", 512, minimum=16)
FACTORY_SANDBOX_TMP_MB = env_int("FACTORY_SANDBOX_TMP_MB", 1024, minimum=1)
FACTORY_SANDBOX_FILE_MB = env_int("FACTORY_SANDBOX_FILE_MB", 1024, minimum=1)
FACTORY_TEST_OUTPUT_MB = env_int("FACTORY_TEST_OUTPUT_MB", 8, minimum=1, maximum=1024)
# Clean checkouts of each project kept ready for the next ticket (switching one writes only what differs).
FACTORY_WARM_WORKTREES = env_int("FACTORY_WARM_WORKTREES", 2, minimum=0, maximum=16)
# Answers each model host generates at once (its OLLAMA_NUM_PARALLEL): `N`, or `URL=N` per host, comma-separated.
# Requests wait their turn at the factory (agent/worker/turns.py); 0: no limit kept here.
FACTORY_OLLAMA_NUM_PARALLEL = env_parallel("FACTORY_OLLAMA_NUM_PARALLEL",
                                           env_int("OLLAMA_NUM_PARALLEL", 1, minimum=0, maximum=64))
# Agent runs at once on this worker machine: by default twice the model hosts' places plus one, so that while
# answers are generated other tickets are prepared or tested (bench/model_busy.py: a ticket's tests and set-up
# take about as long as its answers; one more ticket per place keeps the model from waiting on them).
FACTORY_AGENT_CONCURRENCY = env_int("FACTORY_AGENT_CONCURRENCY", min(32, 1 + 2 * sum(
    FACTORY_OLLAMA_NUM_PARALLEL.get(url, FACTORY_OLLAMA_NUM_PARALLEL[""]) or 1
    for url in FACTORY_OLLAMA_HOSTS or (OLLAMA_HOST,))), minimum=1, maximum=32)
FACTORY_WEBHOOK_TIMEOUT = env_float("FACTORY_WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
FACTORY_WEBHOOK_MAX_TRIES = env_int("FACTORY_WEBHOOK_MAX_TRIES", 5, minimum=1, maximum=20)
# Seconds before the first retry of a failed webhook delivery; each later retry waits 3x longer.
FACTORY_WEBHOOK_BACKOFF_S = env_float("FACTORY_WEBHOOK_BACKOFF_S", 10.0)
FACTORY_QUEUE_SYNC = env_bool("FACTORY_QUEUE_SYNC", False)
# Folders under which a project's repo_url may name a local repository (none: network remotes only).
FACTORY_ALLOWED_REPO_ROOTS = env_paths("FACTORY_ALLOWED_REPO_ROOTS")
# Seconds for the `git ls-remote` that checks a project's repo_url when it is created or changed.
FACTORY_GIT_CHECK_TIMEOUT = env_float("FACTORY_GIT_CHECK_TIMEOUT", 10.0, minimum=1.0)
# A run whose heartbeat is older than this has nobody working on it (its worker died): it is sent back
# to pending once, and failed the second time.
FACTORY_HEARTBEAT_TIMEOUT = env_int("FACTORY_HEARTBEAT_TIMEOUT", 120, minimum=5)
# One agent run may take every attempt's model and test time, plus clone, setup and push.
FACTORY_AGENT_TASK_TIMEOUT = FACTORY_MAX_ATTEMPTS * (int(FACTORY_MODEL_TIMEOUT) + FACTORY_TEST_TIMEOUT) + 900


INSTALLED_APPS = [
    "factory_site.admin_site.FactoryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    # The factory, bottom layer first (imports go one way: see .importlinter).
    "tickets",
    "memory",
    "agent",
    "review",
    "metrics",
    "webhooks",
    "factory_mcp",
    "factory_bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, review page, API docs) served by the app itself, so
    # `make run` and the container need no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "factory_site.middleware.RefuseNulInQuery",
    "factory_site.middleware.DatabaseUnavailableIs503",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "factory_site.urls"
WSGI_APPLICATION = "factory_site.wsgi.application"

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

# A pool of connections per process (psycopg_pool through Django): a request or task borrows one and gives it
# back, so a process never holds more than FACTORY_DB_POOL_MAX however many threads or requests come and go.
# The web server runs FACTORY_WEB_THREADS (4) threads (factory_site/serve.py), hence the default; a django-q2 worker runs
# one task at a time and grows its pool past FACTORY_DB_POOL_MIN only for an agent's parallel candidates.
# Forked processes (django-q2's workers) start a pool of their own (factory_site/db/base.py).
FACTORY_DB_POOL = env_bool("FACTORY_DB_POOL", True)
FACTORY_DB_POOL_MIN = env_int("FACTORY_DB_POOL_MIN", 1, minimum=0, maximum=100)
FACTORY_DB_POOL_MAX = env_int("FACTORY_DB_POOL_MAX", max(4, FACTORY_DB_POOL_MIN), minimum=max(1, FACTORY_DB_POOL_MIN), maximum=100)
FACTORY_DB_POOL_TIMEOUT = env_float("FACTORY_DB_POOL_TIMEOUT", 30.0, minimum=0.1)
_database = database_from_url("DATABASE_URL", env_str("DATABASE_URL", "") or private_cluster_url(
    data_dir=FACTORY_DATA_DIR,
    port=env_int("FACTORY_PG_PORT", saved_cluster_port(FACTORY_DATA_DIR, 55432), minimum=1, maximum=65535)))
if FACTORY_DB_POOL:
    _database["OPTIONS"]["pool"] = {"min_size": FACTORY_DB_POOL_MIN, "max_size": FACTORY_DB_POOL_MAX,
                                    "timeout": FACTORY_DB_POOL_TIMEOUT}
DATABASES = {
    "default": {
        **_database,
        "ENGINE": "factory_site.db",
        # Django's pool requires 0; without the pool, a connection is kept this many seconds.
        "CONN_MAX_AGE": 0 if FACTORY_DB_POOL else env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
    }
}
# Rows a paginated list counts exactly; past it `count` is the planner's estimate (restkit/pagination.py).
FACTORY_API_EXACT_COUNT_LIMIT = env_int("FACTORY_API_EXACT_COUNT_LIMIT", 5_000, minimum=1)
# API tokens whose user and roles a process remembers (tickets/tokencache.py); 0 asks the database every time.
FACTORY_TOKEN_CACHE_SIZE = env_int("FACTORY_TOKEN_CACHE_SIZE", 1024, minimum=0, maximum=1_000_000)
# Seconds an entry lives: the bound on seeing a change made around Django (raw SQL) or on another machine.
FACTORY_TOKEN_CACHE_SECONDS = env_float("FACTORY_TOKEN_CACHE_SECONDS", 30.0, minimum=0.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = FACTORY_DATA_DIR / "static"
# Files shared by several apps' pages (the favicon, the diff's styles), next to the shared templates.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "admin:login"
# Request bodies above this many bytes are refused (the API answers 413 with the limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FACTORY_MAX_REQUEST_BYTES", 2_621_440, minimum=1024)
# The OpenAPI schema and its docs page are for authenticated users unless this opens them.
FACTORY_PUBLIC_API_DOCS = env_bool("FACTORY_PUBLIC_API_DOCS", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tickets.roles.TokenWithRolesAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only, read within DATA_UPLOAD_MAX_MEMORY_SIZE and a nesting limit (413 / 400, never a 500).
    "DEFAULT_PARSER_CLASSES": ["restkit.parsers.LimitedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "restkit.pagination.FactoryPagination",
    "DEFAULT_SCHEMA_CLASS": "factory_site.openapi.FactoryAutoSchema",
    "EXCEPTION_HANDLER": "tickets.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AI Software Factory API",
    "DESCRIPTION": "Tickets for the implementer agent, reviews, shared memory and metrics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["factory_site.docs_permission.DocsPermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": f"/{STATIC_URL}factory/favicon.svg",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "factory_site.openapi.add_shared_errors"],
    # Choice sets that share a field name get a name of their own instead of a generated "Kind191Enum".
    "ENUM_NAME_OVERRIDES": {
        "MemoryKindEnum": "memory.models.Kind",
        "TicketEventKindEnum": "tickets.models.TicketEvent.Kind",
    },
}

# django-q2 with the ORM broker: the queue lives in PostgreSQL next to the
# tickets, so there is nothing else to run. Agent runs go to their own
# cluster ("agent" queue, FACTORY_AGENT_CONCURRENCY workers) so webhooks and
# memory writes on the default queue never wait behind a long model call.
Q_CLUSTER = {
    "name": env_identifier("FACTORY_Q_CLUSTER", "factory"),
    "orm": "default",
    "workers": env_int("FACTORY_WORKERS", 2, minimum=1),
    "timeout": env_int("FACTORY_TASK_TIMEOUT", 3600, minimum=10),
    "retry": env_int("FACTORY_TASK_TIMEOUT", 3600, minimum=10) + 60,
    "max_attempts": 1,
    "poll": 0.2,
    "catch_up": False,
    "save_limit": 1000,
    "sync": FACTORY_QUEUE_SYNC,
    "ack_failures": True,
    "label": "Task queue",
    "ALT_CLUSTERS": {
        # Started with Q_CLUSTER_NAME=agent: one worker per concurrent agent run.
        "agent": {"workers": FACTORY_AGENT_CONCURRENCY, "recycle": 50, "timeout": FACTORY_AGENT_TASK_TIMEOUT,
                  "retry": FACTORY_AGENT_TASK_TIMEOUT + 60},
    },
}
FACTORY_AGENT_QUEUE = "agent"

# The console says what changed, once: not every HTTP call to Ollama or Qdrant (httpx logs
# each one at INFO), nor every task and schedule tick of django-q2 (factory_site/logfilters.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"queue_state_changes": {"()": "factory_site.logfilters.QueueStateChanges"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_log_level("FACTORY_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django-q": {"filters": ["queue_state_changes"]},
    },
}
