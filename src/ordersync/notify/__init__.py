"""Webhook delivery from an outbox: back-off, give-up, stable ids, URLs kept secret."""
