import pytest

from inventory.errors import ValidationError
from inventory.validation import (
    require_non_empty_str,
    require_non_negative_int,
    require_positive_int,
    validate_sku,
)


def test_validate_sku_accepts_canonical_format():
    assert validate_sku("ABC-1234") == "ABC-1234"


@pytest.mark.parametrize("sku", ["abc-1234", "ABC1234", "AB-1234", "ABC-12345", 1234])
def test_validate_sku_rejects_other_formats(sku):
    with pytest.raises(ValidationError, match="expected format ABC-1234"):
        validate_sku(sku)


def test_require_positive_int_rejects_zero_and_bool():
    assert require_positive_int(3, field="quantity") == 3
    for value in (0, -1, True, "3"):
        with pytest.raises(ValidationError, match="quantity must be a positive integer"):
            require_positive_int(value, field="quantity")


def test_require_non_negative_int_accepts_zero():
    assert require_non_negative_int(0, field="price_cents") == 0
    with pytest.raises(ValidationError):
        require_non_negative_int(-5, field="price_cents")


def test_require_non_empty_str_rejects_blank():
    assert require_non_empty_str("x", field="name") == "x"
    with pytest.raises(ValidationError, match="name must be a non-empty string"):
        require_non_empty_str("   ", field="name")
