"""The state store: its memory (``store``), plain records (``records``), and how commands open it (``access``, ``sqlite_reader``).

``schema`` has the tables (a namespace per environment) and the upgrade of older stores;
``locking`` the apply lock (a row on SQLite, an advisory lock on PostgreSQL).

Kept import-free so that pure code (the planner, the views) can import ``records``
without loading SQLAlchemy.
"""
