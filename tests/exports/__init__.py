"""Realistic exports of strangers' surveys for end-to-end tests (see README.md here)."""
