"""One safe-text rule, two documented forms: escaped (\\xNN) for git and stored fields, replaced (U+FFFD) for test output."""
from lib.safetext import clean, cleaned, from_bytes, replaced

RAW = b"a\x00b\xff\xfec"


def test_the_two_forms_of_the_same_bytes():
    assert from_bytes(RAW) == "a\\x00b\\xff\\xfec"
    assert replaced(RAW) == "a\\x00b\ufffd\ufffdc"
    assert clean(RAW.decode("utf-8", "surrogateescape")) == from_bytes(RAW)
    assert replaced("lone \ud800 surrogate") == "lone ? surrogate"


def test_replaced_text_passes_through_the_stored_fields_unchanged():
    """agent.services cleans a run's result once more when storing it: the test output's form is kept."""
    result = {"output_tail": replaced(RAW), "failures": [{"name": replaced(b"test_\xff")}]}
    assert cleaned(result) == result


def test_cleaned_walks_any_result_in_either_form():
    value = {"k\x00": ("x\x00", ["y\x00", 3]), "n": None}
    assert cleaned(value) == {"k\\x00": ["x\\x00", ["y\\x00", 3]], "n": None}
    assert cleaned({b"\xff".decode("utf-8", "surrogateescape"): 1}) == {"\\xff": 1}
    assert cleaned({"t\x00": "\udcff"}, form=replaced) == {"t\\x00": "?"}
