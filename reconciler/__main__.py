"""``python -m reconciler`` runs the CLI (used by tests and benchmarks)."""

from reconciler.cli import entry

entry()
