"""The state store: the reconciler's memory (``store``) and the plain records it returns (``records``).

Kept import-free so that pure code (the planner, the views) can import ``records``
without loading SQLAlchemy.
"""
