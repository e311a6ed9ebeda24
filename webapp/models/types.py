"""Column types shared by the models."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


def _values(members: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in members]


def str_enum(members: type[enum.StrEnum], *, length: int = 16) -> Enum:
    """A column of one ``StrEnum``: read back as members, written as their values.

    Storage stays the plain ``VARCHAR(length)`` the migrations made (no native enum type, no CHECK
    constraint), so the SQL that reads these columns as text is unchanged; a string that names no
    member is refused before it reaches the database.
    """
    return Enum(
        members,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=_values,
        validate_strings=True,
    )
