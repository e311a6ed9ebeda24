"""Outbound webhooks: endpoints, signing secrets, the delivery outbox and its sender."""
