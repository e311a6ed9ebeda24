"""Input no page or form can use, refused before any view runs (the API refuses it in its own shapes)."""

from __future__ import annotations

from flask import abort, request

_NUL = "\x00"


def refuse_nul_bytes() -> None:
    """PostgreSQL text cannot hold a NUL (0x00) character, and no stored value has one: a path that
    holds one names nothing (404); a query or form value that holds one is bad input (400).

    Under ``/api/`` the blueprint's own checks answer instead (404 for ids, a field error or an
    empty list for values), so that the API keeps Attendee's error shapes.
    """
    if request.path.startswith("/api/"):
        return
    if any(_NUL in str(value) for value in (request.view_args or {}).values()):
        abort(404)
    values = [*request.args.items(multi=True)]
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        values += request.form.items(multi=True)
    if any(_NUL in key or _NUL in value for key, value in values):
        abort(400)
