"""Accounts: sign-up, log-in and sessions; organisations and educational profiles."""
