"""Inventory and order management library (stdlib only)."""

__version__ = "0.3.0"
