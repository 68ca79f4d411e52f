"""Qt widgets and plumbing. Imports the core, never the reverse."""
