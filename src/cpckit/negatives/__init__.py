"""Negative samplers: each scores predictions against its own candidates."""
