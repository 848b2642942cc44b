"""The built-in provider catalog: one YAML file per provider, read by reconciler.catalog.

This package holds data only; ``reconciler.catalog.load_catalog`` parses and validates it.
"""
