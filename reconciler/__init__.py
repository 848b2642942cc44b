"""authctl: declarative reconciler for customer-data-platform authorizations and their jobs."""

__version__ = "0.1.0"
