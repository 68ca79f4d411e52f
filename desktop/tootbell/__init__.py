"""Tootbell: a system-tray notifier for Mastodon and servers that speak its API."""

__version__ = "0.1.0"
APP_NAME = "Tootbell"
APP_ID = "org.tootbell.Tootbell"
