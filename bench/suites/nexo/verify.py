"""Self-check of the nexo benchmark suite (stdlib only; needs node and npm, and the npm registry once).

On a scratch git repository seeded from repo/, after installing its dependencies once with the
suite's setup_command (`npm ci`, the only step that needs the network), for every ticket in order:
  1. the ticket's hidden tests must FAIL before its solution (they really test the ticket);
  2. for the known-wrong ticket, the wrong answer must pass the project tests but fail the
     hidden ones;
  3. the correct answer (solutions/<key>.md) must pass the project tests and the hidden tests,
     then it is committed so later tickets build on it.
Finally every hidden test of the suite must pass together on the final state, and node_modules
must be exactly as `npm ci` left it (the factory mounts it read-only for the test runs).

Usage: python verify.py [--keep]   (--keep leaves the scratch directory for inspection)
Exit status: 0 when every check holds, 1 otherwise.
"""

import argparse
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

SUITE_DIR = Path(__file__).resolve().parent
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
SUITE_FIELDS = ("name", "description", "setup_command", "test_command", "hidden_test_command", "edit_format",
                "known_wrong")
DEPENDENCY_FILES = ("package.json", "package-lock.json")
MIN_TICKETS = 12
SETUP_TIMEOUT_SECONDS = 900
COMMAND_TIMEOUT_SECONDS = 600
FENCE = "```"
JEST_SUMMARY = re.compile(r"^Tests:\s+.*$", re.MULTILINE)


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


def read_answer(path: Path) -> dict[str, str]:
    try:
        return parse_whole_file_answer(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path.relative_to(SUITE_DIR)}: {error}") from None


def write_answer(worktree: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        target = worktree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def run_command(command: str, *, cwd: Path, timeout: int = COMMAND_TIMEOUT_SECONDS) -> RunResult:
    env = {**os.environ, "CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1"}
    try:
        completed = subprocess.run(shlex.split(command), cwd=cwd, env=env, capture_output=True, text=True,
                                   timeout=timeout)
    except subprocess.TimeoutExpired:
        return RunResult(passed=False, summary=f"`{command}` timed out after {timeout} s")
    output = completed.stdout + completed.stderr
    summary = JEST_SUMMARY.findall(output)
    lines = output.strip().splitlines()
    return RunResult(passed=completed.returncode == 0,
                     summary=summary[-1] if summary else (lines[-1] if lines else "(no output)"))


def git(worktree: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args]
    completed = subprocess.run(command, cwd=worktree, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {completed.stderr.strip()}")
    return completed.stdout


def commit_all(worktree: Path, *, message: str) -> None:
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "--allow-empty", "-m", message)


def install_hidden_tests(worktree: Path, *, keys: list[str], hidden_dir_name: str) -> None:
    target = worktree / hidden_dir_name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for key in keys:
        for source in sorted((SUITE_DIR / "hidden" / key).iterdir()):
            if source.is_file():
                shutil.copy2(source, target / source.name)


def remove_hidden_tests(worktree: Path, *, hidden_dir_name: str) -> None:
    shutil.rmtree(worktree / hidden_dir_name, ignore_errors=True)


def node_modules_fingerprint(worktree: Path) -> dict[str, tuple[int, int]]:
    fingerprint = {}
    for directory, _, files in os.walk(worktree / "node_modules"):
        for name in files:
            path = Path(directory) / name
            stat = path.lstat()
            fingerprint[str(path.relative_to(worktree))] = (stat.st_size, stat.st_mtime_ns)
    return fingerprint


def check_tools() -> list[str]:
    return [f"{tool} is not installed (apt-get install nodejs npm)" for tool in ("node", "npm")
            if shutil.which(tool) is None]


def check_suite(suite: dict) -> list[str]:
    problems = [f"suite.json: missing field {name!r}" for name in SUITE_FIELDS if name not in suite]
    wrong_answers = sorted(path.name for path in (SUITE_DIR / "solutions").glob("*-wrong.md"))
    expected = [f"{suite.get('known_wrong')}-wrong.md"]
    if wrong_answers != expected:
        problems.append(f"solutions/: expected exactly {expected} as wrong answer, found {wrong_answers}")
    if (SUITE_DIR / "repo" / "node_modules").exists():
        problems.append("repo/node_modules exists: the starting repository must not carry installed packages")
    return problems


def check_ticket_fields(tickets: list[dict]) -> list[str]:
    problems = [] if len(tickets) >= MIN_TICKETS else [f"only {len(tickets)} tickets, need {MIN_TICKETS}"]
    seen: list[str] = []
    for ticket in tickets:
        key = ticket.get("key", "?")
        problems += [f"{key}: {issue}" for issue in _ticket_field_issues(ticket, earlier_keys=seen)]
        seen.append(key)
    if len(set(seen)) != len(seen):
        problems.append(f"duplicate ticket keys in {seen}")
    return problems


def _ticket_field_issues(ticket: dict, *, earlier_keys: list[str]) -> list[str]:
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
    if not ticket.get("tests_requeridos"):
        issues.append("tests_requeridos is empty")
    if not ticket.get("patrones_obligatorios"):
        issues.append("patrones_obligatorios is empty")
    return issues


def check_hidden_files(tickets: list[dict]) -> list[str]:
    """Hidden test files are copied flat together: test names must be unique, shared helpers identical."""
    problems: list[str] = []
    owner_by_name: dict[str, str] = {}
    helper_text: dict[str, tuple[str, str]] = {}
    for ticket in tickets:
        key = ticket["key"]
        files = sorted(path for path in (SUITE_DIR / "hidden" / key).iterdir() if path.is_file())
        if not any(path.name.endswith(".test.js") for path in files):
            problems.append(f"{key}: no hidden/{key}/*.test.js")
        for path in files:
            if path.name.endswith(".test.js"):
                if path.name in owner_by_name:
                    problems.append(f"{key}: hidden test {path.name} also used by {owner_by_name[path.name]}")
                owner_by_name[path.name] = key
                continue
            text = path.read_text(encoding="utf-8")
            if path.name in helper_text and helper_text[path.name][1] != text:
                problems.append(f"{key}: helper {path.name} differs from the one in hidden/{helper_text[path.name][0]}")
            helper_text.setdefault(path.name, (key, text))
    project_tests = {path.name for path in (SUITE_DIR / "repo" / "tests").rglob("*.test.js")}
    problems += [f"hidden test {name} collides with a repo test" for name in sorted(set(owner_by_name) & project_tests)]
    return problems


def check_answer_scope(ticket: dict, answer: dict[str, str], *, worktree: Path) -> list[str]:
    problems = []
    declared = set(ticket["archivos_modificar"])
    if set(answer) != declared:
        problems.append(f"solution changes {sorted(answer)} but archivos_modificar is {sorted(declared)}")
    touched = sorted(set(answer) & set(DEPENDENCY_FILES))
    if touched:
        problems.append(f"solution changes {touched}: tickets cannot add packages to the base lockfile")
    missing = [path for path in ticket["archivos_referencia"] if not (worktree / path).exists()]
    if missing:
        problems.append(f"archivos_referencia not found on main: {missing}")
    return problems


def verify_ticket(ticket: dict, *, suite: dict, worktree: Path, scratch: Path) -> TicketReport:
    key = ticket["key"]
    report = TicketReport(key=key, tipo=ticket["tipo"])
    hidden_dir_name = suite.get("hidden_tests_dir", "hidden_tests")
    answer = read_answer(SUITE_DIR / "solutions" / f"{key}.md")
    report.problems += check_answer_scope(ticket, answer, worktree=worktree)

    before = _run_hidden(worktree, keys=[key], suite=suite)
    report.cells["hidden before"] = "FAIL" if not before.passed else "pass"
    if before.passed:
        report.problems.append(f"hidden tests already pass before the solution: {before.summary}")

    if key == suite["known_wrong"]:
        _verify_wrong_answer(ticket, report=report, suite=suite, worktree=worktree, scratch=scratch)

    write_answer(worktree, answer)
    own = run_command(suite["test_command"], cwd=worktree)
    hidden = _run_hidden(worktree, keys=[key], suite=suite)
    report.cells["own tests"] = "pass" if own.passed else "FAIL"
    report.cells["hidden after"] = "pass" if hidden.passed else "FAIL"
    if not own.passed:
        report.problems.append(f"project tests fail with the solution: {own.summary}")
    if not hidden.passed:
        report.problems.append(f"hidden tests fail with the solution: {hidden.summary}")
    remove_hidden_tests(worktree, hidden_dir_name=hidden_dir_name)
    commit_all(worktree, message=f"{key}: {ticket['titulo']}")
    return report


def _verify_wrong_answer(
    ticket: dict, *, report: TicketReport, suite: dict, worktree: Path, scratch: Path
) -> None:
    key = ticket["key"]
    wrong_answer_path = SUITE_DIR / "solutions" / f"{key}-wrong.md"
    if not wrong_answer_path.is_file():
        report.problems.append(f"known_wrong is {key} but solutions/{key}-wrong.md does not exist")
        return
    wrong_tree = scratch / f"wrong-{key}"
    shutil.copytree(worktree, wrong_tree, ignore=shutil.ignore_patterns("node_modules"))
    (wrong_tree / "node_modules").symlink_to(worktree / "node_modules")
    write_answer(wrong_tree, read_answer(wrong_answer_path))
    own = run_command(suite["test_command"], cwd=wrong_tree)
    hidden = _run_hidden(wrong_tree, keys=[key], suite=suite)
    report.cells["wrong: own"] = "pass" if own.passed else "FAIL"
    report.cells["wrong: hidden"] = "FAIL" if not hidden.passed else "pass"
    if not own.passed:
        report.problems.append(f"wrong answer should pass its own tests: {own.summary}")
    if hidden.passed:
        report.problems.append("wrong answer should fail the hidden tests but passes them")


def _run_hidden(worktree: Path, *, keys: list[str], suite: dict) -> RunResult:
    hidden_dir_name = suite.get("hidden_tests_dir", "hidden_tests")
    install_hidden_tests(worktree, keys=keys, hidden_dir_name=hidden_dir_name)
    try:
        return run_command(suite["hidden_test_command"], cwd=worktree)
    finally:
        remove_hidden_tests(worktree, hidden_dir_name=hidden_dir_name)


def print_table(reports: list[TicketReport]) -> None:
    columns = ["hidden before", "own tests", "hidden after", "wrong: own", "wrong: hidden"]
    header = f"{'ticket':<8}{'tipo':<10}" + "".join(f"{name:<15}" for name in columns) + "verdict"
    print(header)
    print("-" * len(header))
    for report in reports:
        cells = "".join(f"{report.cells.get(name, '-'):<15}" for name in columns)
        print(f"{report.key:<8}{report.tipo:<10}{cells}{'OK' if not report.problems else 'PROBLEM'}")
    for report in reports:
        for problem in report.problems:
            print(f"  {report.key}: {problem}")


def run_suite(*, scratch: Path) -> list[TicketReport]:
    suite = json.loads((SUITE_DIR / "suite.json").read_text(encoding="utf-8"))
    tickets = json.loads((SUITE_DIR / "tickets.json").read_text(encoding="utf-8"))
    worktree = scratch / "main"
    setup = _set_up_main(worktree, suite=suite, tickets=tickets)
    if "node_modules" not in setup.cells.get("installed", ""):
        return [setup]  # nothing else can run without the dependencies
    installed = node_modules_fingerprint(worktree)
    reports = [setup]
    for ticket in tickets:
        reports.append(verify_ticket(ticket, suite=suite, worktree=worktree, scratch=scratch))
    reports.append(_verify_all_hidden_together(tickets, suite=suite, worktree=worktree))
    if node_modules_fingerprint(worktree) != installed:
        reports[-1].problems.append("node_modules changed while the tests ran: the factory mounts it read-only")
    return reports


def _set_up_main(worktree: Path, *, suite: dict, tickets: list[dict]) -> TicketReport:
    """Check the suite's data, seed `worktree` from repo/, install its dependencies, run its tests."""
    report = TicketReport(key="setup", tipo="-")
    report.problems += check_tools() + check_suite(suite) + check_ticket_fields(tickets) + check_hidden_files(tickets)
    shutil.copytree(SUITE_DIR / "repo", worktree, ignore=shutil.ignore_patterns("node_modules", "coverage"))
    git(worktree, "init", "-q")
    commit_all(worktree, message="initial import")
    if check_tools():
        return report
    setup = run_command(suite["setup_command"], cwd=worktree, timeout=SETUP_TIMEOUT_SECONDS)
    if not setup.passed:
        report.problems.append(f"`{suite['setup_command']}` failed (is the npm registry reachable?): {setup.summary}")
        return report
    report.cells["installed"] = "node_modules"
    baseline = run_command(suite["test_command"], cwd=worktree)
    report.cells["own tests"] = "pass" if baseline.passed else "FAIL"
    if not baseline.passed:
        report.problems.append(f"repo/ tests fail before any ticket: {baseline.summary}")
    return report


def _verify_all_hidden_together(tickets: list[dict], *, suite: dict, worktree: Path) -> TicketReport:
    report = TicketReport(key="ALL", tipo="-")
    result = _run_hidden(worktree, keys=[ticket["key"] for ticket in tickets], suite=suite)
    report.cells["hidden after"] = "pass" if result.passed else "FAIL"
    if not result.passed:
        report.problems.append(f"hidden tests fail together on the final state: {result.summary}")
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="nexo-verify-"))
    try:
        reports = run_suite(scratch=scratch)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
