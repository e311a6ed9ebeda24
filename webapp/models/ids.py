"""Public object ids: a short prefix plus 16 random letters and digits."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


_BASE = len(_ALPHABET)
_IDS = _BASE**16


def new_object_id(prefix: str) -> str:
    """``cal_`` + 16 random characters, and the like for other objects.

    One draw from the 62¹⁶ possible ids, written in base 62 (the same uniform choice as 16 calls
    of ``secrets.choice``, for a sixteenth of the CPU: this runs on every create).
    """
    number = secrets.randbelow(_IDS)
    characters = []
    for _ in range(16):
        number, digit = divmod(number, _BASE)
        characters.append(_ALPHABET[digit])
    return prefix + "".join(characters)


def is_object_id(value: str, prefix: str) -> bool:
    """Whether *value* has the shape of an id made by ``new_object_id(prefix)``."""
    return (
        len(value) == len(prefix) + 16
        and value.startswith(prefix)
        and value[len(prefix) :].isalnum()
        and value.isascii()
    )


def storable(value: str | None) -> bool:
    """Whether a text value could be stored at all: PostgreSQL text cannot hold NUL characters."""
    return value is None or "\x00" not in value
