"""The small declarative layer the API objects and request bodies are declared with (``objects.py``).

An API object is declared once, as an ``ApiObject``: its fields in the contract's key order, each
with the JSON Schema of its value and where the value comes from. From that one declaration come
the Python serializer (``ApiObject.serialize``, for objects just written), the document the
database renders for reads (``ApiObject.document``: the columns ``json_documents`` turns into SQL)
and the OpenAPI schema (``ApiObject.schema``). A request body is declared once too, as a ``Body``
of field ``Rule`` s: each rule parses a value with the contract's exact message and states its own
JSON Schema, and ``Body.parse`` is the one loop that reads every body of the API.

Why not a library. The contract's messages are Django REST framework's, word for word ("This field
may not be blank.", ``"x" is not a valid choice.``, "Unexpected field(s): …"), and its order of
checks is DRF's (field errors first, unknown fields only when the known ones are valid; a number
accepted where a string is due, trimmed). pydantic reports ``String should have at most 255
characters`` with its own error types and would need every message and the number coercion
rewritten around it, and it adds pydantic-core (several MB per web worker against a 90 MB budget);
msgspec's messages are its own as well (``Expected `str`, got `int` - at `$.client_id```) and not
configurable; marshmallow's messages can be overridden per field, but its "unknown field" error is
per field (not DRF's one whole-body message after the field errors), and apispec's schemas come
from marshmallow types, not from what the database renders. None knows the SQL side (a document
rendered by PostgreSQL or SQLite). So the layer is ours and small: what the contract needs, no more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from webapp.db.json_documents import Field, JsonDocument, Kind
from webapp.errors import FieldErrors, NonFieldError
from webapp.timestamps import iso

# ---------------------------------------------------------------------------------------------------
# Response objects


class Out(NamedTuple):
    """One field of an API object.

    *read* takes the object and returns the JSON value; ``None`` means the caller gives the value
    (``serialize(obj, key=value)``). *column*: the table column the database renders it from
    (``None``: the database cannot, e.g. a computed value). *required*: whether every response
    holds the key (``False`` for a key only some responses add).
    """

    key: str
    schema: dict[str, Any]
    read: Callable[[Any], Any] | None
    column: str | None = None
    kind: Kind = Kind.VALUE
    required: bool = True


def value(key: str, schema: dict[str, Any], *, attr: str | None = None, column: str | None = None) -> Out:
    """A value stored as it is shown (text, number, boolean, choice)."""
    attr = attr or key
    return Out(key, schema, attrgetter(attr), column or attr, Kind.VALUE)


def json_value(key: str, schema: dict[str, Any], *, attr: str | None = None, column: str | None = None) -> Out:
    """A JSON column, shown as JSON (not as a string)."""
    attr = attr or key
    return Out(key, schema, attrgetter(attr), column or attr, Kind.JSON)


def timestamp(key: str, *, nullable: bool = False, attr: str | None = None, **schema: Any) -> Out:
    """A UTC timestamp, ISO 8601 with microseconds and ``Z`` (``webapp.timestamps.iso``)."""
    get = attrgetter(attr or key)
    return Out(
        key,
        {**(DATETIME_OR_NULL if nullable else DATETIME), **schema},
        lambda obj: iso(get(obj)),
        attr or key,
        Kind.TIMESTAMP,
    )


def computed(key: str, schema: dict[str, Any], read: Callable[[Any], Any]) -> Out:
    """A value the serializer works out (the database document cannot hold it)."""
    return Out(key, schema, read)


def given(key: str, schema: dict[str, Any], *, required: bool = True) -> Out:
    """A value the caller passes to ``serialize`` (one the object does not hold)."""
    return Out(key, schema, None, required=required)


def object_id(prefix: str) -> Out:
    """The ``id`` field: the public id (``object_id`` column), ``prefix`` + 16 letters and digits."""
    return value("id", {"type": "string", "pattern": f"^{prefix}[A-Za-z0-9]{{16}}$"}, attr="object_id")


STRING = {"type": "string"}
STRING_OR_NULL = {"type": ["string", "null"]}
DATETIME = {"type": "string", "format": "date-time"}
DATETIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def enum_of(values: Iterable[Any], *, nullable: bool = False, **extra: Any) -> dict[str, Any]:
    members: list[str | None] = [str(v) for v in values]
    return {"enum": [*members, None] if nullable else members, **extra}


class ApiObject:
    """One object of the API, declared once (see the module docstring)."""

    def __init__(self, name: str, fields: Iterable[Out], *, table: str | None = None) -> None:
        self.name = name
        self.fields = tuple(fields)
        self.table = table
        self._readers = tuple((f.key, f.read, f.required) for f in self.fields)
        self._document: type[JsonDocument] | None = None

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    def serialize(self, obj: Any, **given_values: Any) -> dict[str, Any]:
        """The JSON-ready dict of *obj*, in the declared key order; *given_values* fill ``given`` fields."""
        document = {}
        for key, read, required in self._readers:
            if read is not None:
                document[key] = read(obj)
            elif required or key in given_values:
                document[key] = given_values[key]
        return document

    def schema(self) -> dict[str, Any]:
        """The object's JSON Schema (OpenAPI 3.1): exactly its keys, in order."""
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [f.key for f in self.fields if f.required],
            "properties": {f.key: f.schema for f in self.fields},
        }

    def document(self) -> JsonDocument:
        """The object rendered as JSON text by the database, from the row of ``table`` being read.

        Every field must come from a column; the class is built once (its SQL is its cache key).
        """
        if self._document is None:
            if self.table is None or any(f.column is None or f.read is None for f in self.fields):
                raise TypeError(f"{self.name} is not stored as columns of one table: the database cannot render it")
            self._document = type(
                f"{self.name}Document",
                (JsonDocument,),
                {
                    "__doc__": f"The API's {self.name} object, rendered by the database (``objects.py`` declares it).",
                    "inherit_cache": True,
                    "table": self.table,
                    "fields": tuple(Field(f.key, str(f.column), f.kind) for f in self.fields),
                },
            )
        return self._document()


def page_schema(item: ApiObject) -> dict[str, Any]:
    """The cursor page envelope ``{"next", "previous", "results"}`` around *item* objects."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["next", "previous", "results"],
        "properties": {
            "next": STRING_OR_NULL,
            "previous": STRING_OR_NULL,
            "results": {"type": "array", "items": ref(item.name)},
        },
    }


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# ---------------------------------------------------------------------------------------------------
# Request bodies


class Invalid(Exception):
    """A field's value refused, with the contract's message."""

    def __init__(self, message: str) -> None:
        self.message = message


NULL = "This field may not be null."
BLANK = "This field may not be blank."
NUL_CHARACTERS = "Null characters are not allowed."
REQUIRED = "This field is required."


class Rule:
    """How one body field is parsed (``parse`` raises ``Invalid``) and its JSON Schema."""

    schema: dict[str, Any]

    def parse(self, value: Any) -> Any:
        raise NotImplementedError


# Strings trimmed and refused when blank or holding a NUL character (the database cannot store
# one). Like Attendee (Django REST framework) a JSON number is taken where a string is due.
_TEXT_PATTERN = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


class Text(Rule):
    """DRF's ``CharField``: a string (or a number, as its text), trimmed, not blank, at most *max_length*."""

    def __init__(self, max_length: int, **schema: Any) -> None:
        self.max_length = max_length
        self.schema = {
            "type": ["string", "number"],
            "pattern": _TEXT_PATTERN,
            "minLength": 1,
            "maxLength": max_length,
            **schema,
        }

    def parse(self, value: Any) -> str:
        if value is None:
            raise Invalid(NULL)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Invalid("Not a valid string.")
        text = str(value).strip()
        if not text:
            raise Invalid(BLANK)
        if "\x00" in text:
            raise Invalid(NUL_CHARACTERS)
        if len(text) > self.max_length:
            raise Invalid(f"Ensure this field has no more than {self.max_length} characters.")
        return text


class AbsoluteUrl(Text):
    """A ``Text`` that is an absolute http(s) URL (which origins are allowed is the service's decision)."""

    def __init__(self, max_length: int, **schema: Any) -> None:
        super().__init__(max_length, format="uri", **schema)

    def parse(self, value: Any) -> str:
        text = super().parse(value)
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
            raise Invalid("Enter a valid absolute http(s) URL.")
        return text


class Choice(Rule):
    """DRF's ``ChoiceField``: one of an enum's values (parsed to the enum member)."""

    def __init__(self, choices: type[StrEnum], **schema: Any) -> None:
        self.choices = choices
        self.schema = enum_of(choices, **schema)

    def parse(self, value: Any) -> Any:
        if value is None:
            raise Invalid(NULL)
        try:
            return self.choices(str(value))
        except ValueError:
            raise Invalid(f'"{value}" is not a valid choice.') from None


class MultipleChoice(Rule):
    """DRF's ``MultipleChoiceField`` (not empty): a list of an enum's values, duplicates dropped."""

    def __init__(self, choices: type[StrEnum], **schema: Any) -> None:
        self.allowed = [str(c) for c in choices]
        self.schema = {"type": "array", "minItems": 1, "items": enum_of(self.allowed), **schema}

    def parse(self, value: Any) -> list[str]:
        if value is None:
            raise Invalid(NULL)
        if not isinstance(value, list):
            raise Invalid(f'Expected a list of items but got type "{type(value).__name__}".')
        if not value:
            raise Invalid("This selection may not be empty.")
        for item in value:
            if not isinstance(item, str) or item not in self.allowed:
                raise Invalid(f'"{item}" is not a valid choice.')
        return list(dict.fromkeys(value))


class Metadata(Rule):
    """Attendee's ``metadata``: an object of string values, at least one key, at most *max_json_length* as JSON."""

    name = "Metadata"

    def __init__(self, max_json_length: int = 1000) -> None:
        self.max_json_length = max_json_length
        self.schema = ref(self.name)  # one component, shared by the bodies
        self.definition = {
            "type": "object",
            "description": f"String values; at most {max_json_length} characters as JSON",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[^\\x00]*$"},
            "additionalProperties": {"type": "string", "pattern": "^[^\\x00]*$"},
        }

    def parse(self, value: Any) -> dict[str, str]:
        if value is None:
            raise Invalid(NULL)
        if not isinstance(value, dict):
            raise Invalid("Metadata must be an object not an array or other type")
        if not value:
            raise Invalid("Metadata must have at least one key")
        for key, item in value.items():
            if not isinstance(item, str):
                raise Invalid(f"Value for key '{key}' must be a string")
            if "\x00" in key or "\x00" in item:
                raise Invalid(NUL_CHARACTERS)
        if len(json.dumps(value)) > self.max_json_length:
            raise Invalid(f"Metadata must be less than {self.max_json_length} characters")
        return value


class Body:
    """A request body: its fields' rules in the contract's order (which is the order of its errors)."""

    def __init__(self, name: str, fields: dict[str, Rule], *, required: Iterable[str] = ()) -> None:
        self.name = name
        self.fields = fields
        self.required = tuple(required)
        self._allowed = ", ".join(sorted(fields))

    def parse(self, data: dict[str, Any]) -> dict[str, Any]:
        """The present fields' values. Every field is checked, and unknown fields are reported only
        when the known ones are valid (DRF's order).

        :raises FieldErrors: ``{field: [message]}`` for each field refused or required and missing.
        :raises NonFieldError: fields the body does not have.
        """
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for name, rule in self.fields.items():
            if name not in data:
                if name in self.required:
                    errors[name] = [REQUIRED]
                continue
            try:
                values[name] = rule.parse(data[name])
            except Invalid as exc:
                errors[name] = [exc.message]
        if errors:
            raise FieldErrors(errors)
        if len(data) > len(values):
            unknown = sorted(set(data) - set(self.fields))
            raise NonFieldError(f"Unexpected field(s): {', '.join(unknown)}. Allowed fields are: {self._allowed}")
        return values

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
        if self.required:
            schema["required"] = list(self.required)
        schema["properties"] = {name: rule.schema for name, rule in self.fields.items()}
        return schema
