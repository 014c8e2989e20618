"""Feeds into validated rows, and synthetic England."""
