"""Secrets out of anything logged: connect tokens in paths, OAuth values in queries, credential headers.

Access logs (gunicorn's and ours) and error lines print paths and queries; a connect link's path
*is* its secret, and provider callbacks carry ``code``, ``state`` and ``session_state``. Everything
that prints a URL goes through ``redact_url`` first, and the log formatter applies ``redact_text``
to every finished line as a last guard.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

# Query parameters whose value is a secret or a one-time credential (compared in lower case).
SECRET_PARAMETERS = frozenset(
    {
        "code",
        "state",
        "session_state",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
        "validationtoken",
        "signature",
    }
)
# Request headers that carry credentials: never printed at all.
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-goog-channel-token", "proxy-authorization", "x-api-key"}
)

# /connect/<token>, /connect/<token>/start/google, /connect/<token>/done (not /connect/callback/…).
_CONNECT_PATH = re.compile(r"(/connect/)(?!callback/|<redacted>)[^/?#\s\"']+")
# A parameter of a query: at the start of a bare query string, or after ``?``, ``&`` or ``;`` (so that
# a log line's own ``code=token_revoked`` stays readable).
_PARAMETER = re.compile(
    r"(?:^|(?<=[?&;]))(?P<name>" + "|".join(sorted(SECRET_PARAMETERS)) + r")=(?P<value>[^&\s\"'#;,]*)",
    re.IGNORECASE,
)
# ``Authorization: Token <key>`` and the like, as a header value would print (case matters: "token HTTP/1.1").
_AUTHORIZATION = re.compile(r"\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}")


def redact_path(path: str) -> str:
    """A path with a connect token replaced: ``/connect/<redacted>/done``."""
    return _CONNECT_PATH.sub(r"\1" + REDACTED, path)


def redact_query(query: str) -> str:
    """A query string with the values of secret parameters replaced: ``code=<redacted>&scope=…``."""
    return _PARAMETER.sub(lambda m: f"{m.group('name')}={REDACTED}", query)


def redact_url(url: str) -> str:
    """A path, path and query, or absolute URL, with both kinds of secret replaced."""
    return redact_query(redact_path(url))


def redact_text(text: str) -> str:
    """Free text (a finished log line): URLs redacted, and credentials after ``Token``/``Bearer``."""
    return _AUTHORIZATION.sub(lambda m: f"{m.group(1)} {REDACTED}", redact_url(text))
