import pytest

from inventory.errors import ValidationError
from inventory.money import parse_amount


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12", 1200),
        ("12.5", 1250),
        ("12.50", 1250),
        ("0", 0),
        ("0.05", 5),
        ("0.29", 29),
        ("19.99", 1999),
        ("1.10", 110),
        ("4.35", 435),
        ("1234567.89", 123456789),
        ("  7.05\n", 705),
        ("007", 700),
    ],
)
def test_parse_amount_is_exact(text, cents):
    result = parse_amount(text)
    assert result == cents
    assert type(result) is int


@pytest.mark.parametrize(
    "text", ["", "   ", "-1", "+1", "1,50", "1.234", ".5", "5.", "abc", "1 000", "1.000,00", "1e3", "12.5a"]
)
def test_parse_amount_rejects_malformed_text(text):
    with pytest.raises(ValidationError) as error:
        parse_amount(text)
    expected = f"invalid amount {text!r}: expected digits with up to 2 decimals, e.g. '12.50'"
    assert str(error.value) == expected


@pytest.mark.parametrize("value", [12.5, 12, None, b"12"])
def test_parse_amount_rejects_non_strings(value):
    with pytest.raises(ValidationError):
        parse_amount(value)
