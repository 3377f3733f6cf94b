"""Subcommands of the cpckit CLI, one module each (see cpckit.cli)."""
