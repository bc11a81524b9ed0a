"""Placeholder while under construction."""
