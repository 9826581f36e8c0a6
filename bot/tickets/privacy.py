"""Personal data helpers: normalise what a citizen typed into one phone format, mask it for display, and
blank personal numbers out of free text that leaves the system (views, exports, webhooks).

The form validators call `normalize_mainland_phone`; views call the maskers. Nothing here logs.
`redact_numbers` lives in bot/redaction.py, which Rasa's tracker store shares; it is re-exported here.
"""

from __future__ import annotations

import re
import unicodedata

from bot.redaction import phone_numbers_in, redact_numbers

__all__ = ["find_phone", "mask_name", "mask_phone", "normalize_mainland_phone", "phone_last4", "redact_numbers"]

# What may separate digit groups once NFKC has folded 全角 characters: spaces and the dashes people type.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―]+")
# After separators are gone: an optional country code, an optional bracketed area code, then digits.
_SHAPE = re.compile(r"(?P<cc>\+86|0086)?(?:\((?P<area>0\d{2,3})\))?(?P<rest>\d+)")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# 010 and 02X are the only three-digit area codes; every other one has four digits (0XXX).
_LANDLINE = re.compile(r"(?P<area>0(?:10|2\d|[3-9]\d{2}))(?P<local>[1-9]\d{6,7})")


def normalize_mainland_phone(text: str) -> str | None:
    """A mainland mobile as 13912345678 or a landline as 010-12345678; None for anything else.

    Accepts 全角 digits, spaces and dashes between groups, +86 / 0086 / 86 prefixes and (0755)-style
    area codes. Service numbers (400/800), extensions and foreign numbers are rejected.
    """
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).strip())
    shape = _SHAPE.fullmatch(compact)
    if shape is None:
        return None
    area, rest = shape["area"], shape["rest"]
    international = shape["cc"] is not None
    if not international and area is None and rest.startswith("86") and len(rest) == 13:
        rest, international = rest[2:], True  # 86 13912345678: a mobile with its country code, no plus
    if international and area is None and not rest.startswith("0") and not _MOBILE.fullmatch(rest):
        rest = "0" + rest  # +86 10 12345678: the trunk 0 is dropped after a country code
    digits = (area or "") + rest
    if area is None and _MOBILE.fullmatch(digits):
        return digits
    landline = _LANDLINE.fullmatch(digits)
    if landline is None or (area is not None and landline["area"] != area):
        return None
    # 3-digit area codes (010, 02X) always have 8-digit local numbers.
    if len(landline["area"]) == 3 and len(landline["local"]) != 8:
        return None
    return f"{landline['area']}-{landline['local']}"


def mask_phone(phone: str) -> str:
    """139****5678 for a mobile, 010-1234**** for a landline; all stars when the number is not recognised."""
    normalized = normalize_mainland_phone(phone)
    if normalized is None:
        return "****"  # never echo back part of something we could not parse
    if "-" in normalized:
        area, local = normalized.split("-")
        return f"{area}-{local[:-4]}****"
    return f"{normalized[:3]}****{normalized[-4:]}"


def mask_name(name: str | None) -> str | None:
    """张* / 欧阳** style: the first character stays so the citizen recognises their own ticket."""
    if not name:
        return None
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def phone_last4(phone: str) -> str:
    """The last four digits, which a citizen gives to check a ticket's status."""
    return re.sub(r"\D", "", phone)[-4:]


def find_phone(text: str) -> str | None:
    """The first mainland phone number written anywhere in `text`, normalised; None if there is none."""
    for candidate in phone_numbers_in(text):
        phone = normalize_mainland_phone(candidate)
        if phone is not None:
            return phone
    return None
