"""Dialogs built in code, each with a classmethod entry point."""
