"""The state store: its memory (``store``), plain records (``records``), and how commands open it (``access``, ``sqlite_reader``).

Kept import-free so that pure code (the planner, the views) can import ``records``
without loading SQLAlchemy.
"""
