"""Good and bad values for each branding field, shared by the dashboard and the CLI tests."""

from __future__ import annotations

GOOD: list[tuple[str, str, str | None]] = [
    # (field, value given, value stored)
    ("display_name", "Acme Calendar", "Acme Calendar"),
    ("display_name", "  Zoë & Co  ", "Zoë & Co"),
    ("display_name", "", None),
    ("logo_url", "https://cdn.example.com/logo.svg", "https://cdn.example.com/logo.svg"),
    ("logo_url", "https://cdn.example.com:8443/a/b.png?v=2", "https://cdn.example.com:8443/a/b.png?v=2"),
    ("accent_color", "#0B57D0", "#0b57d0"),
    ("accent_color", "#ffffff", "#ffffff"),
    ("support_url", "https://example.com/help", "https://example.com/help"),
    ("support_url", "http://intranet.example/help", "http://intranet.example/help"),
    ("privacy_url", "https://example.com/privacy#calendar", "https://example.com/privacy#calendar"),
    ("terms_url", "https://example.com/terms", "https://example.com/terms"),
    ("terms_url", "", None),
]

BAD: list[tuple[str, str, str]] = [
    # (field, value, part of the message)
    ("display_name", "x" * 101, "no more than 100 characters"),
    ("display_name", "bell\x07", "control characters"),
    ("logo_url", "http://cdn.example.com/logo.png", "https://"),
    ("logo_url", "javascript:alert(1)", "https://"),
    ("logo_url", "data:image/png;base64,AAAA", "https://"),
    ("logo_url", "//cdn.example.com/logo.png", "https://"),
    ("logo_url", "https://user:pw@cdn.example.com/logo.png", "https://"),
    ("logo_url", "https://cdn.example.com;script-src/x.png", "https://"),
    ("logo_url", "https://cdn.example.com/a b.png", "https://"),
    ("accent_color", "0b57d0", "#rrggbb"),
    ("accent_color", "#0b57d", "#rrggbb"),
    ("accent_color", "#0b57d0;}body{", "#rrggbb"),
    ("accent_color", "red", "#rrggbb"),
    ("accent_color", "#gggggg", "#rrggbb"),
    ("support_url", "javascript:alert(1)", "http(s)"),
    ("support_url", "mailto:help@example.com", "http(s)"),
    ("support_url", "example.com/help", "http(s)"),
    ("privacy_url", "ftp://example.com/privacy", "http(s)"),
    ("privacy_url", 'https://exa"mple.com/', "http(s)"),
    ("terms_url", "https://", "http(s)"),
    ("terms_url", "https://example.com/" + "t" * 2048, "no more than 2048 characters"),
]
