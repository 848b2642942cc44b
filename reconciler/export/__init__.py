"""Bringing an existing account under management: ``authctl export`` and ``authctl import --all-matching``. Pure.

- ``names``: manifest names from labels and job names, variable names for secrets;
- ``selection``: ``--select provider=... method=... label=GLOB``;
- ``documents``: live objects -> one file's documents per provider, with what a person must supply;
- ``yaml_text``: those files as text (``yaml.safe_dump`` only; Jinja2 markers made inert);
- ``matching``: which unmanaged live object each unmanaged manifest means, and what an import records.

No I/O here: the CLI (reconciler/cli/export_commands.py) reads the platform and the state
store, writes the files and adopts through ``StateStore.adopt_many``.
"""
