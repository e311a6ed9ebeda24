"""Push notifications from Google (watch channels) and Microsoft (Graph subscriptions)."""
