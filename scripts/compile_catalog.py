"""Write the precompiled built-in provider catalog, ``providers/catalog.compiled.json``.

Usage::

    python scripts/compile_catalog.py            # validate providers/*.yaml, (re)write the file
    python scripts/compile_catalog.py --check    # exit 1 when the file is missing or stale

Every provider file is validated in full (a broken file exits 2 with the catalog error).
The output is deterministic (sorted keys, fixed indentation), so rewriting an up-to-date
file changes nothing. At run time ``reconciler.catalog.load_catalog`` uses the file only
while the digest in it matches the YAML files; ``tests/unit/test_catalog_compiled.py``
fails when it is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without the package installed
    sys.path.insert(0, str(ROOT))

from reconciler.catalog import COMPILED_NAME  # noqa: E402
from reconciler.catalog_schema import compile_folder  # noqa: E402
from reconciler.errors import CatalogError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when the file is stale")
    parser.add_argument("--dir", type=Path, default=ROOT / "providers",
                        help="the provider folder (default: providers/ of this checkout)")
    args = parser.parse_args(argv)
    target = args.dir / COMPILED_NAME
    try:
        text = compile_folder(args.dir)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        current = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == text:
        print(f"{target}: up to date")
        return 0
    if args.check:
        print(f"{target}: {'missing' if current is None else 'stale'}; run python scripts/compile_catalog.py",
              file=sys.stderr)
        return 1
    target.write_text(text, encoding="utf-8", newline="\n")
    print(f"{target}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
