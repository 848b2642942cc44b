"""Renderers: text, markdown and JSON plans, status tables, catalog views; they draw what they are given and compute nothing."""
