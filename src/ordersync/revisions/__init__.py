"""Revisions: as-of revenue, backfill and restatement plans (draft, review, apply), and the notices
sent when a closed day's revenue moves."""
