"""Secrets at rest: MultiFernet over ``CREDENTIALS_ENCRYPTION_KEYS`` (first key encrypts, all decrypt)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

from config import ConfigurationError

__all__ = ["InvalidToken", "decrypt", "encrypt", "init_app", "rotate"]


def init_app(app: Flask) -> None:
    """Build the keyring once per app; a malformed key stops start-up with a clear message."""
    keys = app.config.get("CREDENTIALS_ENCRYPTION_KEYS") or []
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    if not keys:
        raise ConfigurationError("CREDENTIALS_ENCRYPTION_KEYS is empty")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"CREDENTIALS_ENCRYPTION_KEYS: key {position} is not a valid Fernet key (44 URL-safe base64 characters)"
            ) from None
    app.extensions["keyring"] = MultiFernet(fernets)


def _keyring() -> MultiFernet:
    keyring: MultiFernet = current_app.extensions["keyring"]
    return keyring


def encrypt(plaintext: str) -> bytes:
    """Encrypt under the newest key."""
    return _keyring().encrypt(plaintext.encode())


def decrypt(ciphertext: bytes) -> str:
    """Decrypt with any configured key (raises InvalidToken when none fits)."""
    return _keyring().decrypt(bytes(ciphertext)).decode()


def rotate(ciphertext: bytes) -> bytes:
    """Re-encrypt under the newest key, keeping the original timestamp (raises InvalidToken)."""
    return _keyring().rotate(bytes(ciphertext))
