"""Shared test helpers (importable as ``helpers``: pytest puts ``tests`` on the path)."""
