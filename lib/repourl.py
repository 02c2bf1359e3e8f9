"""A project's repository URL: which transports git may use, the check at the door, and its credentials masked.

git offers transports that run commands (`ext::sh -c ...`, `fd::`) or reach any folder of the machine
(a local path): a URL is a remote only when it names a network transport, or a local folder under one of the
configured roots. Every git command of the factory runs with GIT_ALLOW_PROTOCOL set, so even a URL stored
before this check cannot reach anything else.
"""
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
NETWORK_SCHEMES = frozenset({"git", "http", "https", "ssh", "git+ssh", "ssh+git"})
MASK = "***"
# scp-like syntax, git@host:org/repo.git: a colon before the first slash, and not a URL's "://".
SCP_LIKE = re.compile(r"^(?:[^@/]+@)?[^/:]+:(?!//)")
TRANSPORT_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")


class RepoUrlProblem(ValueError):
    """The URL cannot be used; the message says why, in words fit for an API answer."""


def git_environment() -> dict[str, str]:
    """What every git command of the factory runs with (added to the process environment)."""
    return {
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        # Never stop to ask for credentials: a worker has nobody to answer.
        "GIT_TERMINAL_PROMPT": "0",
    }


def masked(url: str) -> str:
    """The URL with any password or token replaced by ***: https://user:***@host/org/repo.git."""
    if "://" not in url:
        return url  # scp-like (git@host:repo) or a path: no secret in it
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    if has_password:
        userinfo = f"{user}:{MASK}"
    elif parts.scheme in ("http", "https"):
        userinfo = MASK  # https://TOKEN@host: the user name is the secret
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def redact(text: str, url: str) -> str:
    """`text` (a git message) without the URL's credentials."""
    shown = masked(url)
    return text if shown == url else text.replace(url, shown)


def local_path(url: str) -> Path | None:
    """The folder a URL names on this machine, or None for a network URL."""
    if url.startswith("file://"):
        return Path(urlsplit(url).path)
    if "://" in url or SCP_LIKE.match(url):
        return None
    return Path(url)


def check_transport(url: str, *, allowed_roots: Iterable[Path]) -> None:
    if not url.strip() or url != url.strip():
        raise RepoUrlProblem("Give the repository's URL without surrounding spaces.")
    if url.startswith("-"):
        raise RepoUrlProblem("A repository URL cannot start with '-'.")
    if TRANSPORT_HELPER.match(url):
        raise RepoUrlProblem("git remote helpers (ext::, fd:: ...) are not allowed; use an ssh://, https://, "
                             "git:// or scp-like (git@host:org/repo.git) URL.")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme and scheme != "file" and scheme not in NETWORK_SCHEMES:
        raise RepoUrlProblem(f"The transport '{scheme}://' is not allowed; use ssh://, https://, git:// or "
                             "git@host:org/repo.git.")
    path = local_path(url)
    if path is not None:
        check_local_path(path, allowed_roots=tuple(allowed_roots))


def check_local_path(path: Path, *, allowed_roots: tuple[Path, ...]) -> None:
    if not allowed_roots:
        raise RepoUrlProblem("Local paths are not allowed on this factory; give the remote's URL (ssh://, https://, "
                             "git@host:org/repo.git), or list the folders that may hold repositories in "
                             "FACTORY_ALLOWED_REPO_ROOTS.")
    if not path.is_absolute():
        raise RepoUrlProblem("A local repository must be given by its absolute path.")
    real = path.resolve()
    if not any(real.is_relative_to(root.resolve()) for root in allowed_roots):
        roots = ", ".join(str(root) for root in allowed_roots)
        raise RepoUrlProblem(f"{path} is outside the folders allowed for local repositories ({roots}; "
                             "FACTORY_ALLOWED_REPO_ROOTS).")


def check_reachable(url: str, *, branch: str, timeout: float) -> None:
    """`git ls-remote`: the repository answers and has the branch; git's own words when it does not."""
    env = os.environ | git_environment()
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    try:
        result = subprocess.run(["git", "ls-remote", "--heads", "--", url, f"refs/heads/{branch}"], env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RepoUrlProblem(f"git ls-remote {masked(url)} did not answer within {timeout:g} s.") from None
    if result.returncode != 0:
        detail = " ".join(redact(result.stderr, url).split())[-500:] or f"exit status {result.returncode}"
        raise RepoUrlProblem(f"git ls-remote {masked(url)} failed: {detail}")
    if not result.stdout.strip():
        raise RepoUrlProblem(f"The repository has no branch '{branch}' (default_branch); push it first or name "
                             "the branch the factory should work from.")


def check_branch_name(name: str) -> None:
    result = subprocess.run(["git", "check-ref-format", "--branch", name], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True)
    if not name or result.returncode != 0 or name.startswith("-"):
        raise RepoUrlProblem(f"{name!r} is not a valid git branch name.")


def check_repo_url(url: str, *, branch: str, allowed_roots: Iterable[Path], timeout: float) -> None:
    """Everything a project's URL must pass before it is stored; raises RepoUrlProblem."""
    check_transport(url, allowed_roots=allowed_roots)
    check_reachable(url, branch=branch, timeout=timeout)
