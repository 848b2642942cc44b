"""Commands about manifests and the catalog: validate, providers, schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.catalog import load_catalog
from reconciler.suggestions import did_you_mean
from reconciler.cli import output
from reconciler.cli.common import F, all_warnings_option, format_option, workspace_catalog, workspace_options
from reconciler.diagnostic_report import diagnostics_json
from reconciler.errors import UsageError
from reconciler.manifest import load_desired
from reconciler.manifest.schema import manifest_schema
from reconciler.render.catalog import catalog_json, provider_detail, providers_table
from reconciler.workspace import Workspace


def _debug_option(func: F) -> F:
    """Accept ``--debug`` after the command too, as the workspace commands do (main reads it)."""
    return click.option("--debug", is_flag=True, hidden=True, expose_value=False)(func)


@click.command()
@all_warnings_option
@workspace_options
@format_option("text", "json")
def validate(workspace: Workspace, fmt: str, all_warnings: bool) -> None:
    """Check every manifest: syntax, types, catalog rules, references and bindings.

    Reports all problems at once, each as FILE:LINE: Kind/name: field: message; warnings
    of one kind about one subject are one line with a count and the first places
    (--all-warnings lists each), and after 200 errors only their number is shown
    (--format json lists every problem). Needs no secrets and no access to any platform.
    """
    result = load_desired(workspace, workspace_catalog(workspace))
    desired = result.desired
    if fmt == "json":
        output.print_json({
            "format_version": output.JSON_FORMAT_VERSION, "valid": True,
            "files": len(desired.files), "authorizations": len(desired.authorizations),
            "jobs": len(desired.jobs),
            "warnings": diagnostics_json(result.warnings),
        })
        return
    output.print_diagnostics(output.stderr(), result.warnings, all_warnings=all_warnings)
    env = f" (environment {desired.environment})" if desired.environment else ""
    output.stdout().print(
        f"Valid: {len(desired.authorizations)} authorizations and {len(desired.jobs)} jobs "
        f"in {len(desired.files)} files{env}.", markup=False)


@click.command()
@click.argument("name", required=False)
@click.option("-w", "--workspace", "workspace_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Include the workspace's own provider folders.")
@format_option("text", "json")
@_debug_option
def providers(name: str | None, workspace_dir: Path | None, fmt: str) -> None:
    """List providers, their methods, job workflows and required fields (or one in detail)."""
    from reconciler.workspace import load_workspace

    catalog = (workspace_catalog(load_workspace(workspace_dir)) if workspace_dir else load_catalog())
    if name is not None and name not in catalog.providers:
        raise UsageError(f'unknown provider "{name}"' + did_you_mean(name, catalog.providers)
                         + f" (providers: {', '.join(sorted(catalog.providers))})")
    if fmt == "json":
        data = catalog_json(catalog)
        output.print_json(next(p for p in data if p["name"] == name) if name else data)
        return
    console = output.stdout()
    console.print(provider_detail(catalog.providers[name]) if name else providers_table(catalog))


@click.command()
@click.option("-o", "--output", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("-w", "--workspace", "workspace_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Include the workspace's own providers in the enums.")
@_debug_option
def schema(target: Path | None, workspace_dir: Path | None) -> None:
    """Print the JSON Schema of the manifest format, for editors.

    Point yaml-language-server at it with a first line such as
    `# yaml-language-server: $schema=./authctl.schema.json`.
    """
    from reconciler.workspace import load_workspace

    catalog = (workspace_catalog(load_workspace(workspace_dir)) if workspace_dir else load_catalog())
    text = json.dumps(manifest_schema(catalog), indent=2, sort_keys=True) + "\n"
    if target is None:
        click.echo(text, nl=False)
    else:
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc)).lower()
            raise UsageError(f"{target} cannot be written: {reason}") from None
        output.stderr().print(f"Wrote {target}", markup=False)


COMMANDS = [validate, providers, schema]
