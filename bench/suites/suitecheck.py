"""What every suite's self-check (bench/suites/<suite>/verify.py) shares; stdlib only.

The flow (each verify.py's docstring tells it): on a scratch git repository seeded from repo/, every ticket's hidden
tests fail before its reference solution and pass after it, the known-wrong answer passes its own tests but fails
the hidden ones, and all hidden tests pass together at the end. A suite's verify.py subclasses SuiteCheck with what
differs (test file names, the test runner's command line and summary line, installed dependencies, its own data
checks) and calls main().
"""

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

TICKET_TYPES = {"feature", "bugfix", "refactor", "test"}
TICKET_FIELDS: dict[str, type] = {
    "key": str,
    "titulo": str,
    "descripcion": str,
    "tipo": str,
    "prioridad": int,
    "archivos_modificar": list,
    "archivos_referencia": list,
    "patrones_obligatorios": list,
    "contexto_cipher": str,
    "tests_requeridos": list,
}
SHARED_HIDDEN = "_shared"  # hidden/_shared/: helpers copied along with every ticket's hidden files
COMMAND_TIMEOUT_SECONDS = 600
SETUP_TIMEOUT_SECONDS = 900
FENCE = "```"
COLUMNS = ["hidden before", "own tests", "hidden after", "wrong: own", "wrong: hidden"]


@dataclass
class RunResult:
    passed: bool
    summary: str


@dataclass
class TicketReport:
    key: str
    tipo: str
    cells: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


# Answers in the agent's whole-file format -----------------------------------


def parse_whole_file_answer(text: str) -> dict[str, str]:
    """Map path -> new content from 'path line, then fenced block' answers."""
    lines = text.splitlines()
    files: dict[str, str] = {}
    index = 0
    while index < len(lines):
        if lines[index].startswith(FENCE):
            raise ValueError(f"line {index + 1}: fenced block without a file path on the line before")
        if lines[index].strip() and index + 1 < len(lines) and lines[index + 1].startswith(FENCE):
            path = _checked_relative_path(lines[index].strip(), line_number=index + 1)
            body, index = _fenced_body(lines, start=index + 2)
            files[path] = body
        index += 1
    if not files:
        raise ValueError("no 'path line + fenced block' pair found")
    return files


def _checked_relative_path(raw: str, *, line_number: int) -> str:
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts or " " in raw:
        raise ValueError(f"line {line_number}: {raw!r} is not a safe relative file path")
    return str(path)


def _fenced_body(lines: list[str], *, start: int) -> tuple[str, int]:
    for end in range(start, len(lines)):
        if lines[end].strip() == FENCE:
            return "\n".join(lines[start:end]) + "\n", end
    raise ValueError(f"line {start}: fenced block is never closed")


def write_answer(worktree: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        target = worktree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def git(worktree: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args]
    completed = subprocess.run(command, cwd=worktree, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {completed.stderr.strip()}")
    return completed.stdout


def commit_all(worktree: Path, *, message: str) -> None:
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "--allow-empty", "-m", message)


def check_ticket_fields(tickets: list[dict], *, min_tickets: int, non_empty: tuple[str, ...]) -> list[str]:
    problems = [] if len(tickets) >= min_tickets else [f"only {len(tickets)} tickets, need {min_tickets}"]
    seen: list[str] = []
    for ticket in tickets:
        key = ticket.get("key", "?")
        issues = _ticket_field_issues(ticket, earlier_keys=seen, non_empty=non_empty)
        problems += [f"{key}: {issue}" for issue in issues]
        seen.append(key)
    if len(set(seen)) != len(seen):
        problems.append(f"duplicate ticket keys in {seen}")
    return problems


def _ticket_field_issues(ticket: dict, *, earlier_keys: list[str], non_empty: tuple[str, ...]) -> list[str]:
    issues = [
        f"field {name!r} missing or not {kind.__name__}"
        for name, kind in TICKET_FIELDS.items()
        if not isinstance(ticket.get(name), kind)
    ]
    if ticket.get("tipo") not in TICKET_TYPES:
        issues.append(f"tipo {ticket.get('tipo')!r} not in {sorted(TICKET_TYPES)}")
    if not (isinstance(ticket.get("prioridad"), int) and 1 <= ticket["prioridad"] <= 5):
        issues.append("prioridad must be an integer from 1 to 5")
    unknown = [key for key in ticket.get("depende_de", []) if key not in earlier_keys]
    if unknown:
        issues.append(f"depende_de {unknown} are not earlier tickets")
    issues += [f"{name} is empty" for name in non_empty if not ticket.get(name)]
    return issues


def print_table(reports: list[TicketReport]) -> None:
    header = f"{'ticket':<8}{'tipo':<10}" + "".join(f"{name:<15}" for name in COLUMNS) + "verdict"
    print(header)
    print("-" * len(header))
    for report in reports:
        cells = "".join(f"{report.cells.get(name, '-'):<15}" for name in COLUMNS)
        print(f"{report.key:<8}{report.tipo:<10}{cells}{'OK' if not report.problems else 'PROBLEM'}")
    for report in reports:
        for problem in report.problems:
            print(f"  {report.key}: {problem}")


# The check ------------------------------------------------------------------


class SuiteCheck:
    """The self-check of the suite in `suite_dir`; a suite's verify.py overrides what differs."""

    test_pattern = "test_*.py"  # hidden and project test files (fnmatch); other hidden files are helpers
    min_tickets = 1
    suite_fields: tuple[str, ...] = ("name", "description", "test_command", "hidden_test_command", "edit_format",
                                     "known_wrong")
    non_empty_ticket_fields: tuple[str, ...] = ("tests_requeridos",)
    frozen_files: tuple[str, ...] = ()  # dependency files a solution must not change (tests run offline)
    repo_ignore: tuple[str, ...] = ()  # patterns of repo/ not copied into the scratch repository
    installed_dirs: tuple[str, ...] = ()  # what the setup installs: linked into the wrong answer's copy
    summary_line: re.Pattern | None = None  # the test runner's summary; else the output's last line
    setup_hint = ""  # said when the setup command fails

    def __init__(self, suite_dir: Path) -> None:
        self.suite_dir = suite_dir
        self.suite = json.loads((suite_dir / "suite.json").read_text(encoding="utf-8"))
        self.tickets = json.loads((suite_dir / "tickets.json").read_text(encoding="utf-8"))
        self.hidden_dir_name = self.suite.get("hidden_tests_dir", "hidden_tests")

    # What a suite may override ---------------------------------------------

    def command_argv(self, command: str) -> list[str]:
        return shlex.split(command)

    def command_env(self) -> dict[str, str]:
        return dict(os.environ)

    def data_problems(self) -> list[str]:
        """What is wrong with the suite's files, before anything runs."""
        return (self.suite_problems() + check_ticket_fields(self.tickets, min_tickets=self.min_tickets,
                                                            non_empty=self.non_empty_ticket_fields)
                + self.hidden_file_problems())

    def prepare(self, worktree: Path, report: TicketReport) -> bool:
        """Run the suite's setup_command, if any, in the seeded `worktree`; False when nothing else can run."""
        command = self.suite.get("setup_command")
        if not command:
            return True
        setup = self.run(command, cwd=worktree, timeout=SETUP_TIMEOUT_SECONDS)
        if not setup.passed:
            report.problems.append(f"`{command}` failed{self.setup_hint}: {setup.summary}")
        return setup.passed

    def finish(self, worktree: Path, report: TicketReport) -> None:
        """Last checks on the final state, into the last report."""

    # Running ----------------------------------------------------------------

    def run(self, command: str, *, cwd: Path, timeout: int = COMMAND_TIMEOUT_SECONDS) -> RunResult:
        try:
            completed = subprocess.run(self.command_argv(command), cwd=cwd, env=self.command_env(),
                                       capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return RunResult(passed=False, summary=f"`{command}` timed out after {timeout} s")
        output = completed.stdout + completed.stderr
        summary = self.summary_line.findall(output) if self.summary_line else []
        lines = output.strip().splitlines()
        return RunResult(passed=completed.returncode == 0,
                         summary=summary[-1] if summary else (lines[-1] if lines else "(no output)"))

    def run_suite(self, *, scratch: Path) -> list[TicketReport]:
        worktree = scratch / "main"
        setup, ready = self._set_up_main(worktree)
        if not ready:
            return [setup]  # nothing else can run without the dependencies
        reports = [setup]
        for ticket in self.tickets:
            reports.append(self.verify_ticket(ticket, worktree=worktree, scratch=scratch))
        reports.append(self._verify_all_hidden_together(worktree))
        self.finish(worktree, reports[-1])
        return reports

    def _set_up_main(self, worktree: Path) -> tuple[TicketReport, bool]:
        """Check the suite's data, seed `worktree` from repo/, prepare it, run its tests."""
        report = TicketReport(key="setup", tipo="-")
        report.problems += self.data_problems()
        shutil.copytree(self.suite_dir / "repo", worktree, ignore=shutil.ignore_patterns(*self.repo_ignore))
        git(worktree, "init", "-q")
        commit_all(worktree, message="initial import")
        if not self.prepare(worktree, report):
            return report, False
        baseline = self.run(self.suite["test_command"], cwd=worktree)
        report.cells["own tests"] = "pass" if baseline.passed else "FAIL"
        if not baseline.passed:
            report.problems.append(f"repo/ tests fail before any ticket: {baseline.summary}")
        return report, True

    def verify_ticket(self, ticket: dict, *, worktree: Path, scratch: Path) -> TicketReport:
        key = ticket["key"]
        report = TicketReport(key=key, tipo=ticket["tipo"])
        answer = self.read_answer(self.suite_dir / "solutions" / f"{key}.md")
        report.problems += self.answer_scope_problems(ticket, answer, worktree=worktree)

        before = self._run_hidden(worktree, keys=[key])
        report.cells["hidden before"] = "FAIL" if not before.passed else "pass"
        if before.passed:
            report.problems.append(f"hidden tests already pass before the solution: {before.summary}")

        if key == self.suite["known_wrong"]:
            self._verify_wrong_answer(ticket, report=report, worktree=worktree, scratch=scratch)

        write_answer(worktree, answer)
        own = self.run(self.suite["test_command"], cwd=worktree)
        hidden = self._run_hidden(worktree, keys=[key])
        report.cells["own tests"] = "pass" if own.passed else "FAIL"
        report.cells["hidden after"] = "pass" if hidden.passed else "FAIL"
        if not own.passed:
            report.problems.append(f"project tests fail with the solution: {own.summary}")
        if not hidden.passed:
            report.problems.append(f"hidden tests fail with the solution: {hidden.summary}")
        commit_all(worktree, message=f"{key}: {ticket['titulo']}")
        return report

    def _verify_wrong_answer(self, ticket: dict, *, report: TicketReport, worktree: Path, scratch: Path) -> None:
        key = ticket["key"]
        wrong_answer_path = self.suite_dir / "solutions" / f"{key}-wrong.md"
        if not wrong_answer_path.is_file():
            report.problems.append(f"known_wrong is {key} but solutions/{key}-wrong.md does not exist")
            return
        wrong_tree = scratch / f"wrong-{key}"
        shutil.copytree(worktree, wrong_tree, ignore=shutil.ignore_patterns(*self.installed_dirs))
        for name in self.installed_dirs:
            (wrong_tree / name).symlink_to(worktree / name)
        write_answer(wrong_tree, self.read_answer(wrong_answer_path))
        own = self.run(self.suite["test_command"], cwd=wrong_tree)
        hidden = self._run_hidden(wrong_tree, keys=[key])
        report.cells["wrong: own"] = "pass" if own.passed else "FAIL"
        report.cells["wrong: hidden"] = "FAIL" if not hidden.passed else "pass"
        if not own.passed:
            report.problems.append(f"wrong answer should pass its own tests: {own.summary}")
        if hidden.passed:
            report.problems.append("wrong answer should fail the hidden tests but passes them")

    def _verify_all_hidden_together(self, worktree: Path) -> TicketReport:
        report = TicketReport(key="ALL", tipo="-")
        result = self._run_hidden(worktree, keys=[ticket["key"] for ticket in self.tickets])
        report.cells["hidden after"] = "pass" if result.passed else "FAIL"
        if not result.passed:
            report.problems.append(f"hidden tests fail together on the final state: {result.summary}")
        return report

    # Hidden tests -----------------------------------------------------------

    def hidden_files(self, key: str) -> list[Path]:
        """A ticket's hidden files and the shared ones, as the harness copies them (flat, together)."""
        files = _files_in(self.suite_dir / "hidden" / key) + _files_in(self.suite_dir / "hidden" / SHARED_HIDDEN)
        return sorted(files, key=lambda path: path.name)

    def _run_hidden(self, worktree: Path, *, keys: list[str]) -> RunResult:
        target = worktree / self.hidden_dir_name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for key in keys:
            for source in self.hidden_files(key):
                shutil.copy2(source, target / source.name)
        try:
            return self.run(self.suite["hidden_test_command"], cwd=worktree)
        finally:
            shutil.rmtree(target, ignore_errors=True)

    # Data checks ------------------------------------------------------------

    def suite_problems(self) -> list[str]:
        problems = [f"suite.json: missing field {name!r}" for name in self.suite_fields if name not in self.suite]
        wrong_answers = sorted(path.name for path in (self.suite_dir / "solutions").glob("*-wrong.md"))
        expected = [f"{self.suite.get('known_wrong')}-wrong.md"]
        if wrong_answers != expected:
            problems.append(f"solutions/: expected exactly {expected} as wrong answer, found {wrong_answers}")
        return problems

    def hidden_file_problems(self) -> list[str]:
        """Hidden files are copied flat together: test names unique, each helper once (shared ones in _shared/)."""
        shared = {path.name for path in _files_in(self.suite_dir / "hidden" / SHARED_HIDDEN)}
        problems = [f"hidden/{SHARED_HIDDEN}/{name} is a test: a test belongs to one ticket"
                    for name in sorted(shared) if self._is_test(name)]
        owner_by_name: dict[str, str] = {}
        for ticket in self.tickets:
            key = ticket["key"]
            names = [path.name for path in _files_in(self.suite_dir / "hidden" / key)]
            if not any(self._is_test(name) for name in names):
                problems.append(f"{key}: no hidden/{key}/{self.test_pattern}")
            for name in names:
                if name in shared:
                    problems.append(f"{key}: hidden/{key}/{name} would overwrite hidden/{SHARED_HIDDEN}/{name}")
                elif name in owner_by_name and self._is_test(name):
                    problems.append(f"{key}: hidden test {name} also used by {owner_by_name[name]}")
                elif name in owner_by_name:
                    problems.append(f"{key}: helper {name} also in hidden/{owner_by_name[name]}: "
                                    f"keep one copy in hidden/{SHARED_HIDDEN}/")
                owner_by_name.setdefault(name, key)
        project_tests = {path.name for path in (self.suite_dir / "repo" / "tests").rglob(self.test_pattern)}
        colliding = sorted(set(owner_by_name) & project_tests)
        problems += [f"hidden test {name} collides with a test in repo/tests/" for name in colliding]
        return problems

    def _is_test(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.test_pattern)

    def read_answer(self, path: Path) -> dict[str, str]:
        try:
            return parse_whole_file_answer(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{path.relative_to(self.suite_dir)}: {error}") from None

    def answer_scope_problems(self, ticket: dict, answer: dict[str, str], *, worktree: Path) -> list[str]:
        problems = []
        declared = set(ticket["archivos_modificar"])
        if set(answer) != declared:
            problems.append(f"solution changes {sorted(answer)} but archivos_modificar is {sorted(declared)}")
        touched = sorted(set(answer) & set(self.frozen_files))
        if touched:
            problems.append(f"solution changes {touched}: tickets cannot add packages to the base lockfile")
        missing = [path for path in ticket["archivos_referencia"] if not (worktree / path).exists()]
        if missing:
            problems.append(f"archivos_referencia not found on main: {missing}")
        return problems


def _files_in(directory: Path) -> list[Path]:
    return [path for path in directory.iterdir() if path.is_file()] if directory.is_dir() else []


def main(argv: list[str], *, check: type[SuiteCheck], suite_dir: Path, description: str) -> int:
    """verify.py's command line: [--keep]; prints the table and exits 0 when every check holds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix=f"{suite_dir.name}-verify-"))
    try:
        reports = check(suite_dir).run_suite(scratch=scratch)
    except (ValueError, RuntimeError, OSError, json.JSONDecodeError, KeyError) as error:
        print(f"verify: cannot check the suite: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"scratch directory kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print_table(reports)
    failed = [report.key for report in reports if report.problems]
    print(f"\n{'all checks passed' if not failed else 'problems in: ' + ', '.join(failed)}")
    return 1 if failed else 0
