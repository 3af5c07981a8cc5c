"""Phone numbers in E.164, with Google's libphonenumber (the ``phonenumbers`` package)."""

from __future__ import annotations

import re

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


_PHONE_CHARACTERS = frozenset("0123456789+-(). /")


def check_phone_syntax(raw: str) -> str:
    """``raw`` unchanged when it is written like a phone number (digits and the usual punctuation,
    an optional leading +, 6 to 15 digits); :class:`InvalidPhoneNumber` otherwise. A check that
    needs no default region, so request models can report it together with their other fields;
    :func:`to_e164` then decides, with the region, whether it is a possible number."""
    text = raw.strip()
    digits = sum(c.isdigit() for c in text)
    if not set(text) <= _PHONE_CHARACTERS or "+" in text[1:] or not 6 <= digits <= 15:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}")
    return raw


_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def to_e164(raw: str, default_region: str = "US") -> str:
    """``+15125550100`` from "+1 (512) 555-0100", "512-555-0100" (in the default region) or
    "0044 20 7946 0958"; :class:`InvalidPhoneNumber` when it is not a possible number.

    A number written with its country code (``+`` or ``00``) is taken as E.164 when it has the
    shape (7 to 15 digits), as the stored functions take it (``leadledger.normalize_phone``),
    without asking libphonenumber whether the number exists: the design document's own example,
    "+1234567890", is not a possible North American number (docs/decisions.md D41). Numbers
    written without a country code are read in ``default_region`` by libphonenumber."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    compact = re.sub(r"[\s().\-/]", "", text)
    if _E164.match(compact):
        return compact
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
