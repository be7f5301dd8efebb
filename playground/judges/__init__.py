"""Judges: each adds its declared columns (playground.schema) to a result frame; see base.py."""
