"""Phone normalisation for the form validators, and masking for views."""

from __future__ import annotations

import pytest

from bot.tickets import mask_phone, normalize_mainland_phone
from bot.tickets.privacy import mask_name, redact_numbers


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("13912345678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("+8613912345678", "13912345678"),
        ("86-139-1234-5678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("0086 139 1234 5678", "13912345678"),
        ("139-1234-5678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),  # 全角数字
        ("＋８６　１３９－１２３４－５６７８", "13912345678"),
        (" 19912345678 ", "19912345678"),
        ("010-12345678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("(010)12345678", "010-12345678"),
        ("(0755)12345678", "0755-12345678"),
        ("（０７５５）１２３４５６７８", "0755-12345678"),
        ("075512345678", "0755-12345678"),
        ("0755 1234 5678", "0755-12345678"),
        ("0512-6512345", "0512-6512345"),  # seven-digit local number
        ("020-87654321", "020-87654321"),
        ("+86 10 1234 5678", "010-12345678"),  # the trunk 0 drops after a country code
        ("+86 010 12345678", "010-12345678"),
        ("+86 (0755) 1234 5678", "0755-12345678"),
    ],
)
def test_valid_numbers_are_normalised(typed: str, normalized: str) -> None:
    assert normalize_mainland_phone(typed) == normalized
    assert normalize_mainland_phone(normalized) == normalized  # idempotent


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "1391234567",  # ten digits
        "139123456789",  # twelve digits
        "12912345678",  # no mobile prefix 12x
        "23912345678",
        "13912345678转123",  # extensions are not taken
        "139 1234 567a",
        "+1 202 555 0123",
        "+852 9123 4567",
        "+86 12345",
        "4008001234",  # service numbers reach no citizen
        "800-810-8888",
        "110",
        "12320",
        "010-1234567",  # Beijing local numbers have eight digits
        "0755-123456",
        "0755-123456789",
        "010-01234567",  # local numbers never start with 0
        "(0755)139123456",
        "(010)0755-12345678",
        "013912345678",
        "139.1234.5678",
        "+86+86 13912345678",
        "１３９１２３４５６７８９",
    ],
)
def test_everything_else_is_rejected(typed: str) -> None:
    assert normalize_mainland_phone(typed) is None


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13912345678", "139****5678"),
        ("+86 139 1234 5678", "139****5678"),
        ("010-12345678", "010-1234****"),
        ("0512-6512345", "0512-651****"),
        ("not a phone 12345", "****"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "*"), (None, None), ("", None)]
)
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("我电话13912345678，身份证11010519491231002X。", "我电话[电话]，身份证[身份证号]。"),
        ("打 139 1234 5678 或 +86-13912345678", "打 [电话] 或 [电话]"),
        ("座机010-12345678，全角１３９１２３４５６７８", "座机[电话]，全角[电话]"),
        ("订单号202211131234567890123，752元，2022年1月14日", "订单号202211131234567890123，752元，2022年1月14日"),
        ("打（0755）12345678或(010) 12345678、0755 1234567", "打[电话]或[电话]、[电话]"),  # bracketed area codes
        ("工单 12320-20261123-000001，后四位5678", "工单 12320-20261123-000001，后四位5678"),
    ],
)
def test_redact_numbers_blanks_phones_and_id_numbers_and_keeps_the_rest(text: str, redacted: str) -> None:
    assert redact_numbers(text) == redacted
