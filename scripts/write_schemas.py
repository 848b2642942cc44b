"""Write the editor schemas the repository's own YAML files point at: ``schema/*.schema.json``.

Usage::

    python scripts/write_schemas.py            # (re)write schema/authctl.schema.json and authctl-settings.schema.json
    python scripts/write_schemas.py --check    # exit 1 when one is missing or stale

``schema/authctl.schema.json`` is ``authctl schema`` (the manifest format, with the built-in
catalog's per-provider/method and per-workflow fields); ``schema/authctl-settings.schema.json``
is ``authctl schema --settings`` (``authctl.yaml``). The demo manifests (manifests/) and the
examples (examples/*/) name them on their first line, relative to the file::

    # yaml-language-server: $schema=../../schema/authctl.schema.json

Run it after editing providers/*.yaml (with scripts/compile_catalog.py) or the manifest or
settings models; ``tests/unit/test_schema_conditional.py`` fails when a file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without the package installed
    sys.path.insert(0, str(ROOT))

from reconciler.catalog import load_catalog  # noqa: E402
from reconciler.manifest.schema import manifest_schema, schema_text, settings_schema  # noqa: E402

SCHEMA_DIR = ROOT / "schema"
MANIFEST_SCHEMA = SCHEMA_DIR / "authctl.schema.json"
SETTINGS_SCHEMA = SCHEMA_DIR / "authctl-settings.schema.json"


def expected() -> dict[Path, str]:
    """Each schema file and the text it must hold."""
    return {MANIFEST_SCHEMA: schema_text(manifest_schema(load_catalog())),
            SETTINGS_SCHEMA: schema_text(settings_schema())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected().items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"{path}: written")
    if args.check and stale:
        for path in stale:
            print(f"{path}: missing or stale; run python scripts/write_schemas.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
