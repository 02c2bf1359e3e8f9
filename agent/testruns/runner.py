"""The minimal runner: a small virtualenv holding only pytest, for runs that bring no environment of their own.

Test and setup runs never see the factory's own virtualenv (its Django, its
pytest plugins: a project's tests could import them, and `python -m pytest`
paid 0.93 s against 0.22 s to load them). A project whose setup_command built
an environment (a .venv, node_modules, ~/.local) finds it first on PATH; behind
it, every run finds this runner: the factory's base interpreter (never its
virtualenv) in a virtualenv of its own with pytest alone, built once per
interpreter and pytest version under FACTORY_RUNNERS_DIR with the factory's pip
(from its cache, else the package registry), shown read-only to sandboxed runs
at its own path (a virtualenv's scripts name it). Node projects use the
system's node; their setup's node_modules/.bin comes first.
"""
import fcntl
import shutil
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from agent.errors import ProjectProblem

READY = "ready"
# Without FACTORY_RUNNERS_DIR (tests and scripts that build a policy themselves): the user's cache folder.
DEFAULT_RUNNERS_DIR = Path.home() / ".cache" / "factory" / "runners"
INSTALL_TIMEOUT_S = 600


class RunnerUnavailable(ProjectProblem):
    """The minimal runner could not be built; the message says why and what to do."""


def base_interpreter() -> Path:
    """The interpreter the factory's virtualenv was made from: never the virtualenv's own packages."""
    return Path(getattr(sys, "_base_executable", "") or Path(sys.base_prefix) / "bin" / "python3")


def runner_name() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}-pytest{version('pytest')}"


@lru_cache(maxsize=8)
def python_runner(runners_dir: Path) -> Path:
    """The runner's virtualenv under `runners_dir`, built on first use (one builder at a time)."""
    folder = runners_dir / runner_name()
    if (folder / READY).is_file():
        return folder
    runners_dir.mkdir(parents=True, exist_ok=True)
    with open(runners_dir / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / READY).is_file():
            build(folder)
    return folder


def build(folder: Path) -> None:
    # Built where it stays: a virtualenv's scripts name their folder, so it cannot be moved once made.
    shutil.rmtree(folder, ignore_errors=True)
    steps = ([str(base_interpreter()), "-m", "venv", "--without-pip", str(folder)],
             [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "--quiet",
              "--disable-pip-version-check", "--no-input", f"pytest=={version('pytest')}"])
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            done = subprocess.CompletedProcess(step, -1, "", str(exc))
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise RunnerUnavailable(
                f"the minimal Python runner (pytest alone) could not be built in {folder}: `{' '.join(step)}` "
                f"failed: {(done.stderr or done.stdout).strip()[-600:]}. The worker needs the package registry "
                "(or pytest in pip's cache) once; or give the project a setup_command that installs its tools.")
    (folder / READY).write_text(runner_name() + "\n")
