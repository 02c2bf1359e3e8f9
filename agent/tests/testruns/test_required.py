"""Which required tests exist, and which edits of their files keep them: on real files in a temporary folder."""
from agent.testruns.required import changed_tests, read_required
from agent.testruns.verdict import Judging, owned_by_ticket, trace_locations

TESTS = '''import pytest


class TestCalc:
    def setup_method(self):
        self.base = 2

    def test_add(self):
        assert self.base + 3 == 5


@pytest.mark.parametrize("value", [1, 2])
def test_positive(value):
    assert value > 0
'''


def required(tmp_path, entries, files=None):
    return required_in(tmp_path, entries, files=files)


def required_in(tmp_path, entries, files=None, changeable=()):
    for name, text in (files or {"tests/test_calc.py": TESTS}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return read_required(root=tmp_path, entries=entries, changeable=changeable)


def test_named_tests_are_sorted_into_present_and_to_write_and_prose_is_neither(tmp_path):
    found = required(tmp_path, ["tests/test_calc.py::TestCalc::test_add", "./tests/test_calc.py::test_positive[2]",
                                "tests/test_calc.py::test_sub", "tests/test_new.py", "sub(3, 1) == 2"])
    assert found.present == ("tests/test_calc.py::TestCalc::test_add", "./tests/test_calc.py::test_positive[2]")
    assert found.to_write == ("tests/test_calc.py::test_sub", "tests/test_new.py")  # in the ticket's order
    assert found.locked == frozenset() and set(found.guarded) == {"tests/test_calc.py"}


def test_existing_tests_may_move_and_get_neighbours_but_not_change(tmp_path):
    found = required(tmp_path, ["tests/test_calc.py::TestCalc::test_add", "tests/test_calc.py::test_positive",
                                "tests/test_calc.py::test_sub"])
    added = ("def test_sub():\n    assert 3 - 1 == 2\n\n\n" + TESTS).replace(
        "    def test_add(self):", "    def test_more(self):\n        assert True\n\n    def test_add(self):")
    assert found.refusal("tests/test_calc.py", added) == ""
    reason = found.refusal("tests/test_calc.py", TESTS.replace("[1, 2]", "[1]").replace("== 5", "> 0"))
    assert "(changed: TestCalc::test_add, test_positive)" in reason and "tests/test_calc.py::test_sub" in reason
    assert "(removed: TestCalc::test_add)" in found.refusal("tests/test_calc.py", TESTS.replace("test_add", "t_a"))
    assert "does not parse" in found.refusal("tests/test_calc.py", TESTS + "def broken(:\n")


def test_a_file_whose_named_tests_all_exist_is_locked_whole(tmp_path):
    found = required(tmp_path, ["tests/test_calc.py::test_positive", "tests/test_calc.py"])
    assert found.locked == frozenset({"tests/test_calc.py"}) and found.guarded == {}


def test_a_bare_path_next_to_a_missing_test_keeps_every_test_of_the_file(tmp_path):
    found = required(tmp_path, ["tests/test_calc.py", "tests/test_calc.py::test_sub"])
    assert "(changed: TestCalc)" in found.refusal("tests/test_calc.py", TESTS.replace("self.base = 2", "pass"))


def test_other_languages_are_searched_by_name_and_locked_only_when_all_exist(tmp_path):
    files = {"calc.test.js": "test('adds', () => { expect(add(2, 3)).toBe(5); });\n"}
    assert required(tmp_path, ["calc.test.js::adds"], files).locked == frozenset({"calc.test.js"})
    open_file = required(tmp_path, ["calc.test.js::adds", "calc.test.js::subtracts"], files)
    assert open_file.locked == frozenset() and open_file.guarded == {}
    assert open_file.to_write == ("calc.test.js::subtracts",)


def test_a_file_the_ticket_lists_to_modify_is_open_and_its_present_tests_must_run(tmp_path):
    found = read_required(root=tmp_path, entries=[], changeable=[])  # nothing named: nothing to keep
    assert found.must_run == ()
    found = required_in(tmp_path, ["tests/test_calc.py::TestCalc::test_add", "tests/test_calc.py::test_sub"],
                        changeable=["./tests/test_calc.py"])
    assert found.locked == frozenset() and found.guarded == {}
    assert found.must_run == ("tests/test_calc.py::TestCalc::test_add",)
    assert found.changeable == {"tests/test_calc.py": ("TestCalc::test_add",)}
    assert found.refusal("tests/test_calc.py", "anything") == ""


def test_each_changed_required_test_gets_its_own_diff(tmp_path):
    evolved = TESTS.replace("[1, 2]", "[1, 2, 3]").replace("self.base + 3 == 5", "self.base + 4 == 6")
    changed = changed_tests(path="t.py", names=["test_positive"], before=TESTS, after=evolved)
    assert [entry["test"] for entry in changed] == ["t.py::test_positive"]
    assert '+@pytest.mark.parametrize("value", [1, 2, 3])' in changed[0]["diff"]
    every = changed_tests(path="t.py", names=[""], before=TESTS, after=evolved)
    assert [entry["test"] for entry in every] == ["t.py::TestCalc::test_add", "t.py::test_positive"]
    assert changed_tests(path="t.py", names=["test_positive"], before=TESTS, after=TESTS) == []
    [whole] = changed_tests(path="a.test.js", names=["adds"], before="a\n", after="b\n")
    assert whole["test"] == "a.test.js" and "-a\n+b\n" in whole["diff"]


def test_a_failure_belongs_to_the_ticket_when_its_traceback_runs_through_a_changed_line():
    message = ('def test_slugify():\n>   assert slugify("x")\n\ntests/test_slug.py:5: \n_ _ _\n'
               'text.py:2: in slugify\n    raise NotImplementedError\nE   NotImplementedError\n'
               '  File "/tmp/scratch-1/src/pkg/mod.py", line 40, in f\n    at g (src/lib/x.js:7:3)\n')
    places = trace_locations(message)
    assert places == ["tests/test_slug.py:5", "text.py:2", "/tmp/scratch-1/src/pkg/mod.py:40", "src/lib/x.js:7"]
    judging = Judging(base_outcomes={}, base_commit="c", base_branch="main", changed_files=frozenset(),
                      changed_lines={"text.py": ((1, 2),), "src/pkg/mod.py": ((50, 50),)})
    assert owned_by_ticket("tests/test_slug.py::test_slugify", judging=judging, trace=message)
    assert not owned_by_ticket("tests/test_other.py::test_x", judging=judging,
                               trace="text.py:6: NotImplementedError\nsrc/pkg/mod.py:40: in f")
    assert owned_by_ticket("tests/test_other.py::test_x", judging=judging, trace="src/pkg/mod.py:50: in f")
