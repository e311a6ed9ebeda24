"""Public object ids: a short prefix plus 16 random letters and digits."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_object_id(prefix: str) -> str:
    """``cal_`` + 16 random characters, and the like for other objects."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))
