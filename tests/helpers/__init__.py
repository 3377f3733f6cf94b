"""Shared pieces of the tests (not tests themselves), imported as ``helpers.<name>``."""
