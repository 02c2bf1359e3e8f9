"""Which project test commands the factory can narrow to a few test files: real package.json files on disk."""
import json

import pytest

from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import RELATED_ENV, TestSetup, scoped_command

SCRIPTS = {"test": "npm run lint && npm run test:coverage", "test:unit": "cross-env TZ=UTC jest",
           "test:ci": "npm run test:unit -- --ci", "unit": "jest --runInBand", "lint": "eslint .",
           "test:coverage": "cross-env TZ=UTC jest --coverage", "loop": "npm run loop"}


def scoped(tmp_path, command, scripts=SCRIPTS):
    (tmp_path / "package.json").write_text(json.dumps({"name": "p", "scripts": scripts}))
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "a.test.ts").write_text("test('a', () => {})\n")
    return scoped_command(TestSetup(command=command, timeout=10, sandbox=SandboxPolicy("off")), cwd=tmp_path,
                          files=["tests/a.test.ts"])


@pytest.mark.parametrize("command", ["npm run test:unit", "npm run-script test:unit", "npm run test:ci",
                                     "yarn unit", "pnpm run test:unit", "yarn test:unit --silent"])
def test_a_package_script_that_runs_jest_is_narrowed_through_jests_related_files(tmp_path, command):
    found = scoped(tmp_path, command)
    assert found is not None and found.command == command
    assert found.env == {RELATED_ENV: "tests/a.test.ts"}


def test_npm_test_is_narrowed_when_its_script_runs_jest(tmp_path):
    assert scoped(tmp_path, "npm test", {"test": "jest"}) is not None
    assert scoped(tmp_path, "npm t", {"test": "jest --ci"}) is not None


@pytest.mark.parametrize("command", ["npm run lint", "npm test", "npm run loop", "npm run missing", "npm ci",
                                     "make test"])
def test_a_command_that_does_not_only_run_jest_is_not_narrowed(tmp_path, command):
    assert scoped(tmp_path, command) is None  # `npm test` here lints first: the whole command is the project's


def test_a_package_json_that_is_not_what_npm_reads_is_no_scripts(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "a.test.ts").write_text("")
    for text in ("[1, 2]", "{not json", '{"scripts": ["jest"]}', '{"scripts": {"test": 3}}'):
        (tmp_path / "package.json").write_text(text)
        setup = TestSetup(command="npm test", timeout=10, sandbox=SandboxPolicy("off"))
        assert scoped_command(setup, cwd=tmp_path, files=["tests/a.test.ts"]) is None
