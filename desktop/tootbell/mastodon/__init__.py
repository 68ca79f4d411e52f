"""Talking to a Mastodon-API server. No Qt here."""
