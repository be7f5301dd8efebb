"""Stores: one SQLite layer (db), the prompt library, its Hub mirror."""
