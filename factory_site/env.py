"""Typed readers for environment variables.

Every setting comes from the environment with a working default. A value that
cannot be used stops the process at start-up with the variable's name, so a
typo never turns into a confusing failure deep inside a request or a task.
"""
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from lib.modelnames import MODEL_NAME_HELP, is_model_name


class ImproperlyConfiguredEnv(RuntimeError):
    pass


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a boolean: use true/false, 1/0, yes/no or on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfiguredEnv(f"{name}={value} is above the maximum of {maximum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_or_default(name: str, default: str) -> str:
    """The variable's value, or `default` when it is unset or empty (as for every setting with a default)."""
    return (os.environ.get(name) or default).strip()


def env_log_level(name: str, default: str) -> str:
    value = env_or_default(name, default).upper()
    if value not in LOG_LEVELS:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} must be one of: {', '.join(LOG_LEVELS)}")
    return value


def env_identifier(name: str, default: str) -> str:
    """A name other components key on (a queue's cluster name): letters, digits, - and _ only."""
    value = env_or_default(name, default)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", value):
        raise ImproperlyConfiguredEnv(f"{name}={value!r} must be 1 to 100 letters, digits, - or _")
    return value


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from a header's name (X-Forwarded-Proto): a request is HTTPS when the proxy
    sets that header to `https`. Empty: no proxy header is trusted."""
    value = env_or_default(name, "")
    if not value:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", value):
        raise ImproperlyConfiguredEnv(f"{name}={value!r} must be a header name, e.g. X-Forwarded-Proto")
    return "HTTP_" + value.upper().replace("-", "_"), "https"


def env_list(name: str, default: str) -> list[str]:
    raw = os.environ.get(name) or default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_model_name(name: str, default: str) -> str:
    value = env_or_default(name, default)
    if not is_model_name(value):
        raise ImproperlyConfiguredEnv(f"{name}={value!r} is not {MODEL_NAME_HELP}")
    return value


def env_model_names(name: str, default: str) -> list[str]:
    names = env_list(name, default)
    wrong = [model for model in names if not is_model_name(model)]
    if wrong:
        raise ImproperlyConfiguredEnv(f"{name}: {', '.join(map(repr, wrong))} is not {MODEL_NAME_HELP}")
    return names


def env_url(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    if value and urlparse(value).scheme not in {"http", "https"}:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} must be an http:// or https:// URL")
    return value.rstrip("/")


def env_urls(name: str, default: str) -> tuple[str, ...]:
    """A comma-separated list of http(s) URLs, each checked like env_url."""
    values = env_list(name, default)
    wrong = [value for value in values if urlparse(value).scheme not in {"http", "https"} or not urlparse(value).netloc]
    if wrong:
        raise ImproperlyConfiguredEnv(f"{name}: {', '.join(map(repr, wrong))} must be http:// or https:// URLs")
    return tuple(dict.fromkeys(value.rstrip("/") for value in values))


def env_parallel(name: str, default: int) -> dict[str, int]:
    """Answers each model host generates at once: `N` for every host, `URL=N` for one ("" keys the default).

    0 means no limit kept by the factory (the host queues what it cannot serve itself).
    """
    places = {"": default}
    for entry in env_list(name, ""):
        url, _, count = entry.rpartition("=")
        if url and (urlparse(url).scheme not in {"http", "https"} or not urlparse(url).netloc):
            raise ImproperlyConfiguredEnv(f"{name}: {url!r} must be an http:// or https:// URL (as URL=N)")
        if not count.strip().isdigit() or int(count) > 64:
            raise ImproperlyConfiguredEnv(f"{name}: {entry!r} needs a whole number from 0 to 64 (N or URL=N)")
        places[url.strip().rstrip("/")] = int(count)
    return places


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def env_paths(name: str) -> tuple[Path, ...]:
    """A comma-separated list of absolute paths (empty by default)."""
    paths = tuple(Path(item) for item in env_list(name, ""))
    relative = [str(path) for path in paths if not path.is_absolute()]
    if relative:
        raise ImproperlyConfiguredEnv(f"{name} must list absolute paths; not absolute: {', '.join(relative)}")
    return paths


def database_from_url(name: str, url: str) -> dict:
    """Django DATABASES entry from postgres://user:pass@host:port/db?sslmode=..."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfiguredEnv(
            f"{name} must be a postgres:// URL (PostgreSQL is the only supported database), got {url!r}"
        )
    database = unquote(parsed.path.lstrip("/"))
    if not database:
        raise ImproperlyConfiguredEnv(f"{name}={url!r} names no database (postgres://user@host:port/DBNAME)")
    options = dict(pair.split("=", 1) for pair in parsed.query.split("&") if "=" in pair)
    host = unquote(parsed.hostname or "") if parsed.hostname else options.pop("host", "")
    try:
        port = parsed.port
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={url!r} has an invalid port") from None
    return {
        "NAME": database,
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": options,
    }


def persistent_secret(path: Path) -> str:
    """A random secret kept in `path` (mode 600), created once even when processes start together."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_secret(path)
        with os.fdopen(handle, "w") as output:
            output.write(secrets.token_urlsafe(50) + "\n")
        return _read_secret(path)
    except OSError as exc:
        raise ImproperlyConfiguredEnv(
            f"DJANGO_SECRET_KEY is not set and {path} cannot be used to keep one ({exc.strerror}); "
            "set DJANGO_SECRET_KEY or make FACTORY_DATA_DIR writable"
        ) from None


def _read_secret(path: Path) -> str:
    for _ in range(50):  # another process may be between creating and writing the file
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.02)
    raise ImproperlyConfiguredEnv(f"{path} is empty; delete it or set DJANGO_SECRET_KEY")


def saved_cluster_port(data_dir: Path, default: int) -> int:
    """The port `make run` last started its private cluster on (kept in data_dir), so a second shell's
    `make token` finds it without repeating FACTORY_PG_PORT."""
    try:
        return int((data_dir / "postgres-port").read_text().strip())
    except (OSError, ValueError):
        return default


def private_cluster_url(*, data_dir: Path, port: int) -> str:
    """The database `make run` starts when DATABASE_URL is not set (its password is kept in data_dir)."""
    password_file = data_dir / "postgres-password"
    password = password_file.read_text().strip() if password_file.is_file() else ""
    credentials = f"postgres:{password}" if password else "postgres"
    return f"postgres://{credentials}@127.0.0.1:{port}/factory"
