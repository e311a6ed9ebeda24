"""The signature of a webhook body: base64 HMAC-SHA256 over canonical JSON (sorted keys, compact)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

# The newest live secret signs here (the contract's header).
SIGNATURE_HEADER = "X-Webhook-Signature"
# During a secret rotation: the signatures by the other live secrets, ``v1=<b64>,v1=<b64>``, newest first.
ROTATION_SIGNATURES_HEADER = "X-Webhook-Signatures"
IDEMPOTENCY_HEADER = "X-Webhook-Idempotency-Key"


def canonical_json(payload: Any) -> bytes:
    """The exact bytes that are signed and sent.

    Non-ASCII is escaped (``json.dumps`` defaults), so a receiver that re-serializes the parsed body
    with ``sort_keys=True, separators=(",", ":")`` gets these bytes back.
    """
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign(secret: bytes, body: bytes) -> str:
    """Base64 of HMAC-SHA256 of *body* keyed by *secret*."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    """Whether *signature* is *body*'s signature under *secret* (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), signature.strip())


def rotation_header(signatures: list[str]) -> str:
    """The value of ``X-Webhook-Signatures`` for the signatures of the other live secrets."""
    return ",".join(f"v1={signature}" for signature in signatures)


def parse_rotation_header(value: str) -> list[str]:
    """The signatures in an ``X-Webhook-Signatures`` value (for receivers and tests)."""
    return [part.strip()[3:] for part in value.split(",") if part.strip().startswith("v1=")]
