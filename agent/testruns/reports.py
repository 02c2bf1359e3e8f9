"""Per-test results from machine-readable reports: JUnit XML, Jest and Vitest JSON.

The factory asks the common runners for a report without changing the project's
command or its test processes' argv: pytest through PYTEST_ADDOPTS, node's test
runner through NODE_OPTIONS, Jest and Vitest through hooks NODE_OPTIONS preloads
(hooks/jest_report.cjs adds a JSON reporter to the configuration Jest read, the
project's own; hooks/vitest_report.cjs adds one to the reporters Vitest made from
its configuration), all writing into a folder the sandbox mounts for the run. A
project whose runner cannot be asked that way names its own report file
(`test_report`, relative to the worktree). Console parsing
(agent.testruns.parsing) stays as the fallback.

Reports are written by code under test, so they are read as hostile input: a
size limit, no symlinks followed, files outside the worktree refused.
"""
import json
import os
import stat
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent.testruns.sandbox import PROJECT_DIR
from lib.paths import path_problem, resolved_inside

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
MAX_REPORT_BYTES = 20_000_000
MAX_MESSAGE_CHARS = 2000
HOOKS = Path(__file__).parent / "hooks"
JEST_HOOK = HOOKS / "jest_report.cjs"
VITEST_HOOK = HOOKS / "vitest_report.cjs"
INJECTED_ENV = {
    "PYTEST_ADDOPTS": "--junitxml={report_dir}/pytest.xml -o junit_family=xunit1",
    "NODE_OPTIONS": ("--test-reporter=tap --test-reporter-destination=stdout "
                     "--test-reporter=junit --test-reporter-destination={report_dir}/node.xml "
                     f"--require {{report_dir}}/{JEST_HOOK.name} --require {{report_dir}}/{VITEST_HOOK.name}"),
    "FACTORY_JEST_REPORT": "{report_dir}/jest.json",
    "FACTORY_VITEST_REPORT": "{report_dir}/vitest.json",
}
# Jest's and Vitest's scoped run: the changed files, one a line, read by the hooks (never the runner's argv).
RELATED_ENV = "FACTORY_RELATED_FILES"


def install_hooks(report_dir: Path) -> None:
    """Put the preloaded hooks where the run's NODE_OPTIONS names them (the report folder, mounted for the run)."""
    for hook in sorted(HOOKS.glob("*.*js")):
        (report_dir / hook.name).write_bytes(hook.read_bytes())


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # a result, not a test class for pytest to collect

    id: str
    status: str
    file: str = ""
    message: str = ""

    @property
    def failing(self) -> bool:
        return self.status in (FAILED, ERROR)


@dataclass(frozen=True)
class Report:
    kind: str  # "junit", "jest-json"
    cases: dict[str, TestCase]

    def outcomes(self) -> dict[str, str]:
        return {case.id: case.status for case in self.cases.values()}


class UnreadableReport(ValueError):
    """A report file that is not a report (or too big, or a link): the run falls back to the console."""


def read_reports(*, report_dir: Path, worktree: Path, project_report: str = "") -> Report | None:
    """Every report the run left: the injected ones, then the project's own; None when there is none."""
    cases: dict[str, TestCase] = {}
    kinds = []
    sources = sorted([*report_dir.glob("*.xml"), *report_dir.glob("*.json")]) if report_dir.is_dir() else []
    for path in sources:
        try:
            kind, parsed = parse_any(read_safely(path), root=worktree)
        except UnreadableReport:
            continue
        cases.update(parsed)
        kinds.append(kind)
    if project_report:
        found = project_report_file(worktree=worktree, relative=project_report)
        if found is not None:
            try:
                kind, parsed = parse_any(read_safely(found), root=worktree)
                cases.update(parsed)
                kinds.append(kind)
            except UnreadableReport:
                pass
    if not kinds:
        return None
    return Report(kind="+".join(dict.fromkeys(kinds)), cases=cases)


def project_report_file(*, worktree: Path, relative: str) -> Path | None:
    candidate = project_report_path(worktree=worktree, relative=relative)
    return candidate if candidate is not None and candidate.exists() else None


def project_report_path(*, worktree: Path, relative: str) -> Path | None:
    """Where the project's own report goes, or None when `relative` leads out of the worktree or into .git.

    The setting is checked where it is stored, but one stored before that check (or a link the code under test
    made) must still never make the factory read or delete a file elsewhere, nor git's own data.
    """
    if path_problem(relative):
        return None  # absolute, '..', .git: worktree / "/etc/x" would be /etc/x
    if resolved_inside(worktree, relative) is None:
        return None  # a link out of the worktree or into .git: never follow it
    return worktree / relative


def read_safely(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise UnreadableReport(f"{path.name}: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
            raise UnreadableReport(f"{path.name}: not a regular file under {MAX_REPORT_BYTES} bytes")
        return handle.read(MAX_REPORT_BYTES)


def parse_any(data: bytes, *, root: Path) -> tuple[str, dict[str, TestCase]]:
    start = data.lstrip()[:1]
    if start == b"<":
        return "junit", parse_junit(data, root=root)
    if start == b"{":
        return "jest-json", parse_jest_json(data, root=root)
    raise UnreadableReport("neither JUnit XML nor Jest/Vitest JSON")


# JUnit XML (pytest, node's test runner, jest-junit, vitest's junit reporter) ----------


def parse_junit(data: bytes, *, root: Path) -> dict[str, TestCase]:
    try:
        tree = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise UnreadableReport(f"not JUnit XML: {exc}") from None
    cases = {}
    for element in tree.iter("testcase"):
        case = junit_case(element, root=root)
        cases[case.id] = case
    return cases


def junit_case(element: ElementTree.Element, *, root: Path) -> TestCase:
    name = element.get("name", "")
    classname = element.get("classname", "")
    file = relative_file(element.get("file", ""), root=root)
    status, message = PASSED, ""
    for child, child_status in (("failure", FAILED), ("error", ERROR), ("skipped", SKIPPED)):
        found = element.find(child)
        if found is not None or (child == "failure" and element.get("failure")):
            status = child_status
            text = "" if found is None else (found.get("message") or "") + "\n" + (found.text or "")
            message = (text.strip() or element.get("failure") or "")[:MAX_MESSAGE_CHARS]
            break
    return TestCase(id=junit_id(name=name, classname=classname, file=file), status=status, file=file,
                    message=message)


def junit_id(*, name: str, classname: str, file: str) -> str:
    """pytest's node id when the file is known (tests/test_x.py::TestY::test_z), else classname::name."""
    if file:
        module = PurePosixPath(file).with_suffix("").as_posix().replace("/", ".")
        inner = classname[len(module):].lstrip(".") if classname.startswith(module) else ""
        return "::".join(part for part in (file, *inner.split("."), name) if part)
    return f"{classname}::{name}" if classname else name


# Jest and Vitest JSON (--json --outputFile=..., vitest --reporter=json) ---------------

JSON_STATUS = {"passed": PASSED, "failed": FAILED, "pending": SKIPPED, "skipped": SKIPPED, "todo": SKIPPED,
               "disabled": SKIPPED}


def parse_jest_json(data: bytes, *, root: Path) -> dict[str, TestCase]:
    try:
        report = json.loads(data)
    except ValueError as exc:
        raise UnreadableReport(f"not JSON: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("testResults"), list):
        raise UnreadableReport("JSON without testResults: not a Jest or Vitest report")
    cases = {}
    for suite in report["testResults"]:
        if isinstance(suite, dict):
            cases.update(suite_cases(suite, root=root))
    return cases


def suite_cases(suite: dict, *, root: Path) -> dict[str, TestCase]:
    file = relative_file(str(suite.get("name") or suite.get("testFilePath") or ""), root=root)
    cases = {}
    for assertion in suite.get("assertionResults") or []:
        if not isinstance(assertion, dict):
            continue
        title = str(assertion.get("fullName") or assertion.get("title") or "")
        status = JSON_STATUS.get(str(assertion.get("status")), FAILED)
        message = "\n".join(str(item) for item in assertion.get("failureMessages") or [])[:MAX_MESSAGE_CHARS]
        case = TestCase(id=f"{file}::{title}", status=status, file=file, message=message)
        cases[case.id] = case
    if not cases and suite.get("status") == "failed":
        # The file did not even load (syntax error, missing module): one error standing for all of it.
        message = str(suite.get("message") or "the test file failed to run")[:MAX_MESSAGE_CHARS]
        cases[f"{file}::(test file failed to run)"] = TestCase(
            id=f"{file}::(test file failed to run)", status=ERROR, file=file, message=message)
    return cases


def relative_file(path: str, *, root: Path) -> str:
    """A report's file path relative to the worktree (runners write absolute or rootdir-relative paths)."""
    if not path:
        return ""
    candidate = PurePosixPath(path)
    if not candidate.is_absolute():
        return candidate.as_posix()
    # Inside the sandbox the worktree is PROJECT_DIR; unsandboxed it is `root` itself.
    for folder in (root.as_posix(), PROJECT_DIR):
        if candidate.is_relative_to(folder):
            return candidate.relative_to(folder).as_posix()
    return candidate.as_posix()
