"""A benchmark suite (bench/suites/<name>/): its repository, tickets, hidden tests and reference answers,
and where a run's answers come from (the suite's own answers, or an Ollama model)."""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

from agent.core.model import Model, ScriptedModel
from agent.defaults import ollama_model
from tickets import services

SUITES_DIR = settings.BASE_DIR / "bench" / "suites"
SCRIPTED = "scripted"
SUITE_FIELDS = ("name", "test_command", "hidden_test_command")
SHARED_HIDDEN = "_shared"  # hidden/_shared/: helpers copied along with every ticket's hidden files


class BenchmarkError(Exception):
    """A benchmark that cannot start or go on; the message says why and what to do."""


# The suite ------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteTicket:
    key: str
    fields: dict
    depende_de: tuple[str, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    setup_command: str  # e.g. `npm ci`: the project's own setup, run by the agent like any project's
    test_report: str  # the per-test report the test command writes (relative path), if it writes one
    test_command: str
    hidden_test_command: str
    hidden_tests_dir: str
    edit_format: str
    known_wrong: str
    tickets: tuple[SuiteTicket, ...]

    def answer(self, key: str, *, wrong: bool = False) -> str:
        return (self.path / "solutions" / f"{key}{'-wrong' if wrong else ''}.md").read_text(encoding="utf-8")

    def hidden_files(self, key: str) -> list[Path]:
        """The ticket's hidden files and the suite's shared ones (hidden/_shared/), copied flat together."""
        files = files_in(self.path / "hidden" / key) + files_in(self.path / "hidden" / SHARED_HIDDEN)
        return sorted(files, key=lambda path: path.name)

    def select(self, keys: list[str] | None) -> list[str]:
        """The chosen keys plus everything they depend on, in the suite's order."""
        known = {ticket.key: ticket for ticket in self.tickets}
        unknown = [key for key in keys or [] if key not in known]
        if unknown:
            raise BenchmarkError(f"Unknown ticket(s) {', '.join(unknown)} in suite {self.name}; "
                                 f"its tickets are {', '.join(known)}")
        wanted, pending = set(), list(keys or known)
        while pending:
            key = pending.pop()
            if key not in wanted:
                wanted.add(key)
                pending.extend(known[key].depende_de)
        return [ticket.key for ticket in self.tickets if ticket.key in wanted]


def files_in(directory: Path) -> list[Path]:
    return [path for path in directory.iterdir() if path.is_file()] if directory.is_dir() else []


def available_suites(root: Path = SUITES_DIR) -> list[str]:
    return sorted(path.name for path in root.iterdir() if (path / "suite.json").is_file()) if root.is_dir() else []


def load_suite(name: str, *, root: Path = SUITES_DIR) -> Suite:
    path = root / name
    if not (path / "suite.json").is_file():
        raise BenchmarkError(f"No suite {name!r} in {root}; available: {', '.join(available_suites(root)) or 'none'}")
    try:
        config = json.loads((path / "suite.json").read_text(encoding="utf-8"))
        raw_tickets = json.loads((path / "tickets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"Suite {name}: cannot read suite.json / tickets.json: {exc}") from None
    missing = [field for field in SUITE_FIELDS if not config.get(field)]
    if missing:
        raise BenchmarkError(f"Suite {name}: suite.json lacks {', '.join(missing)}")
    try:
        tickets = tuple(suite_ticket(raw) for raw in raw_tickets)
    except (KeyError, TypeError) as exc:
        raise BenchmarkError(f"Suite {name}: every ticket in tickets.json needs a 'key' ({exc!r})") from None
    suite = Suite(name=config["name"], path=path, description=config.get("description", ""),
                  setup_command=config.get("setup_command", ""), test_report=config.get("test_report", ""),
                  test_command=config["test_command"], hidden_test_command=config["hidden_test_command"],
                  hidden_tests_dir=config.get("hidden_tests_dir", "hidden_tests"),
                  edit_format=config.get("edit_format", "auto"), known_wrong=config.get("known_wrong", ""),
                  tickets=tickets)
    check_suite(suite)
    return suite


def suite_ticket(raw: dict) -> SuiteTicket:
    return SuiteTicket(key=raw["key"], fields={name: raw[name] for name in services.DEFINITION_FIELDS if name in raw},
                       depende_de=tuple(raw.get("depende_de", ())))


def check_suite(suite: Suite) -> None:
    problems, earlier = [], set()
    for ticket in suite.tickets:
        later = [key for key in ticket.depende_de if key not in earlier]
        if later:
            problems.append(f"{ticket.key} depends on {', '.join(later)}, which is not an earlier ticket")
        earlier.add(ticket.key)
        if not (suite.path / "solutions" / f"{ticket.key}.md").is_file():
            problems.append(f"solutions/{ticket.key}.md is missing")
        if not (suite.path / "hidden" / ticket.key).is_dir():
            problems.append(f"hidden/{ticket.key}/ is missing")
        problems += shared_name_clashes(suite, key=ticket.key)
    if suite.known_wrong and not (suite.path / "solutions" / f"{suite.known_wrong}-wrong.md").is_file():
        problems.append(f"solutions/{suite.known_wrong}-wrong.md is missing (suite.json known_wrong)")
    if not (suite.path / "repo").is_dir():
        problems.append("repo/ is missing")
    if problems:
        raise BenchmarkError(f"Suite {suite.name} is incomplete: {'; '.join(problems)}")


def shared_name_clashes(suite: Suite, *, key: str) -> list[str]:
    shared = {path.name for path in files_in(suite.path / "hidden" / SHARED_HIDDEN)}
    return [f"hidden/{key}/{path.name} has the name of a file in hidden/{SHARED_HIDDEN}/ (both are copied flat)"
            for path in files_in(suite.path / "hidden" / key) if path.name in shared]


# Models ---------------------------------------------------------------------


class ModelSource(Protocol):
    name: str

    def check(self) -> None: ...
    def for_ticket(self, key: str) -> Model: ...
    def describe(self) -> dict: ...


class SuiteAnswers:
    """`--model scripted`: the suite's reference answers, and its known-wrong answer for that one ticket."""

    name = SCRIPTED

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def check(self) -> None:
        return None

    def for_ticket(self, key: str) -> Model:
        answer = self.suite.answer(key, wrong=key == self.suite.known_wrong)
        return ScriptedModel(lambda system, user: answer, name=SCRIPTED)

    def describe(self) -> dict:
        return {"kind": SCRIPTED, "known_wrong": self.suite.known_wrong}


class OllamaModels:
    """An Ollama model, with the factory's own settings (num_ctx, temperature, timeout)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model = ollama_model(name)

    def check(self) -> None:
        self.model.check()

    def for_ticket(self, key: str) -> Model:
        return self.model

    def describe(self) -> dict:
        return {"kind": "ollama", "host": self.model.host}


def model_source(name: str, suite: Suite) -> ModelSource:
    return SuiteAnswers(suite) if name == SCRIPTED else OllamaModels(name)


