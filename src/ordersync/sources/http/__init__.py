"""The HTTP under every store API: one session per client (transport), an account's shared request
budget (pacing), and when and how long to wait before trying again (retry)."""
