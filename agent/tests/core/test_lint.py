"""The lint pass of check_syntax on real files in temporary git repositories: precise findings the
edit introduced (file:line:col, rule, message), never the ones the file already had."""
import subprocess
from pathlib import Path

from agent.core.syntax import check_syntax

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def git_repo(root: Path, files: dict[str, str]) -> Path:
    write(root, files)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
                   check=True)
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def reasons(root: Path, paths: list[str]) -> list[str]:
    return [failure.reason for failure in check_syntax(root=root, paths=paths)]


def test_an_undefined_name_is_reported_with_file_line_column_rule_and_code(tmp_path):
    root = git_repo(tmp_path, {"app/calc.py": CALC})
    write(root, {"app/calc.py": CALC + "\n\ndef double(a):\n    return add(a, a) + offest\n"})
    failures = check_syntax(root=root, paths=["app/calc.py"])
    assert [failure.path for failure in failures] == ["app/calc.py"]
    assert failures[0].reason == ("app/calc.py:10:24: F821 Undefined name `offest`\n"
                                  "    return add(a, a) + offest")


def test_findings_the_file_already_had_are_not_the_edits_doing(tmp_path):
    root = git_repo(tmp_path, {"app/legacy.py": "def f():\n    return missing_helper()\n"})
    write(root, {"app/legacy.py": "\n\ndef f():\n    return missing_helper()\n\n\ndef g():\n    return 1\n"})
    assert reasons(root, ["app/legacy.py"]) == []


def test_a_new_file_is_checked_whole(tmp_path):
    root = git_repo(tmp_path, {"README.md": "x\n"})
    write(root, {"tools/new.py": "__all__ = ['run']\n\n\ndef start():\n    return os.getcwd()\n"})
    found = reasons(root, ["tools/new.py"])[0]
    assert "tools/new.py:1:12: F822 Undefined name `run` in `__all__`" in found
    assert "tools/new.py:5:12: F821 Undefined name `os`" in found


def test_a_name_imported_from_the_repository_must_exist_there(tmp_path):
    root = git_repo(tmp_path, {"app/__init__.py": "", "app/calc.py": CALC, "app/views.py": "x = 1\n"})
    write(root, {"app/views.py": "from app.calc import ad, sub\nfrom . import calc, nothing\n\n"
                                 "TOTAL = ad(1, 2) + calc.sub(3, 1)\n"})
    found = reasons(root, ["app/views.py"])[0]
    assert found == (
        "app/views.py:1:22: no-name-in-module cannot import name 'ad' from 'app.calc': app/calc.py does not "
        "define it; did you mean 'add'?\n    from app.calc import ad, sub\n"
        "app/views.py:2:21: no-name-in-module cannot import name 'nothing' from '.': app/__init__.py does not "
        "define it\n    from . import calc, nothing")


def test_imports_that_cannot_be_told_statically_are_left_alone(tmp_path):
    root = git_repo(tmp_path, {
        "lib/__init__.py": "from lib.core import *\n",
        "lib/core.py": "VALUE = 1\n",
        "lib/lazy.py": "def __getattr__(name):\n    return name\n",
        "lib/sub/__init__.py": "",
        "lib/conditional.py": "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
                              "if json:\n    def dumps(x):\n        return json.dumps(x)\nfor index in range(2):\n"
                              "    pass\n",
        "main.py": "x = 1\n",
    })
    write(root, {"main.py": (
        "from lib import VALUE, sub\nfrom lib.lazy import anything\nfrom lib.conditional import json, dumps, index\n"
        "from requests import nothing_checked_outside_the_repository\n"
        "try:\n    from lib.core import optional\nexcept ImportError:\n    optional = None\n"
        "print(VALUE, sub, anything, json, dumps, index, nothing_checked_outside_the_repository, optional)\n")})
    assert reasons(root, ["main.py"]) == []


def test_a_syntax_error_is_reported_alone(tmp_path):
    root = git_repo(tmp_path, {"a.py": "x = 1\n"})
    write(root, {"a.py": "def f(:\n    return undefined_name\n"})
    found = reasons(root, ["a.py"])
    assert len(found) == 1 and found[0].startswith("a.py:1: ") and "F821" not in found[0]


def test_the_projects_ruff_settings_are_honoured_when_harmless(tmp_path):
    root = git_repo(tmp_path, {
        "pyproject.toml": ('[tool.ruff]\nbuiltins = ["_"]\ntarget-version = "py311"\n'
                           '[tool.ruff.lint.per-file-ignores]\n"scripts/*" = ["F821"]\n'),
        "app/i18n.py": "x = 1\n", "scripts/job.py": "x = 1\n",
    })
    write(root, {"app/i18n.py": "TITLE = _('Hello')\nOTHER = gettext('x')\n",
                 "scripts/job.py": "run(undefined_here)\n"})
    assert reasons(root, ["app/i18n.py", "scripts/job.py"]) == [
        "app/i18n.py:2:9: F821 Undefined name `gettext`\n    OTHER = gettext('x')"]


def test_a_project_that_ignores_undefined_names_is_not_checked_for_them(tmp_path):
    root = git_repo(tmp_path, {"ruff.toml": '[lint]\nignore = ["F821"]\n', "a.py": "x = 1\n"})
    write(root, {"a.py": "y = undefined_here\n"})
    assert reasons(root, ["a.py"]) == []


def test_a_hostile_ruff_config_is_never_handed_to_ruff(tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text("password = 'hunter2'\nnot toml at all [[[\n")
    cache = tmp_path / "elsewhere"
    root = git_repo(tmp_path / "repo", {
        ".ruff.toml": f'extend = "{secret}"\ncache-dir = "{cache}"\nbuiltins = ["os; rm -rf /", "ok_name"]\n',
        "a.py": "x = 1\n",
    })
    write(root, {"a.py": "print(ok_name, bad_name)\n"})
    found = reasons(root, ["a.py"])
    assert found == ["a.py:1:16: F821 Undefined name `bad_name`\n    print(ok_name, bad_name)"]
    assert "hunter2" not in "".join(found) and not cache.exists() and not (root / ".ruff_cache").exists()
