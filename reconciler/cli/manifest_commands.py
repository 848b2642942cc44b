"""Commands about manifests and the catalog: validate, providers, schema."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.catalog import load_catalog
from reconciler.suggestions import did_you_mean
from reconciler.cli import output
from reconciler.cli.common import F, all_warnings_option, output_options, workspace_catalog, workspace_options
from reconciler.diagnostic_report import diagnostics_json
from reconciler.errors import UsageError
from reconciler.manifest import load_desired
from reconciler.manifest.schema import manifest_schema
from reconciler.policy.enforce import check_manifests, plan_time_rules
from reconciler.render.catalog import catalog_json, provider_detail, providers_table
from reconciler.workspace import Workspace


def _debug_option(func: F) -> F:
    """Accept ``--debug`` after the command too, as the workspace commands do (main reads it)."""
    return click.option("--debug", is_flag=True, hidden=True, expose_value=False)(func)


@click.command()
@all_warnings_option
@workspace_options
@output_options("text", "json")
def validate(workspace: Workspace, fmt: str, all_warnings: bool) -> None:
    """Check every manifest: syntax, types, catalog rules, references, bindings and policy.

    Reports all problems at once, each as FILE:LINE: Kind/name: field: message; warnings
    of one kind about one subject are one line with a count and the first places
    (--all-warnings lists each), and after 200 errors only their number is shown
    (--format json lists every problem). Needs no secrets and no access to any platform.
    Policy is policy.rules in authctl.yaml; plan checks max_token_age (it needs live tokens).
    """
    catalog = workspace_catalog(workspace)
    result = load_desired(workspace, catalog)
    desired = result.desired
    warnings = sorted([*result.warnings, *check_manifests(workspace, catalog, desired)])
    later = plan_time_rules(workspace)
    if fmt == "json":
        output.print_json({
            "format_version": output.JSON_FORMAT_VERSION, "valid": True,
            "files": len(desired.files), "authorizations": len(desired.authorizations),
            "jobs": len(desired.jobs),
            "warnings": diagnostics_json(warnings),
            "policy": {"rules": len(workspace.settings.policy.rules), "checked_by_plan": later},
        })
        return
    output.print_diagnostics(output.stderr(), warnings, all_warnings=all_warnings)
    env = f" (environment {desired.environment})" if desired.environment else ""
    output.stdout().print(
        f"Valid: {len(desired.authorizations)} authorizations and {len(desired.jobs)} jobs "
        f"in {len(desired.files)} files{env}.", markup=False)
    if later:
        output.stdout().print(f"Policy: {', '.join(later)} is checked by `authctl plan` (it needs the live "
                              "platform).", markup=False)


@click.command()
@click.argument("name", required=False)
@click.option("-w", "--workspace", "workspace_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Include the workspace's own provider folders.")
@output_options("text", "json")
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
        version = {"format_version": output.JSON_FORMAT_VERSION}  # (one object: at its top; a list: wrapped)
        output.print_json({**version, **next(p for p in data if p["name"] == name)} if name
                          else {**version, "providers": data})
        return
    console = output.stdout()
    console.print(provider_detail(catalog.providers[name]) if name else providers_table(catalog))


@click.command()
@output_options("json")  # a JSON Schema document has one form; it carries no format_version (see below)
@click.option("-w", "--workspace", "workspace_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Include the workspace's own providers in the enums.")
@click.option("--settings", "settings", is_flag=True, help="The schema of authctl.yaml instead of the manifests'.")
@_debug_option
def schema(workspace_dir: Path | None, fmt: str, settings: bool) -> None:
    """Print the JSON Schema of the manifest format (or, with --settings, of authctl.yaml), for editors.

    The manifest schema knows the catalog: the config and credentials fields of each
    provider/method and the config fields of each workflow. Point yaml-language-server at
    it with a first line such as `# yaml-language-server: $schema=./authctl.schema.json`
    (this repository's own are in schema/, written by scripts/write_schemas.py).
    """
    from reconciler.manifest.schema import schema_text, settings_schema
    from reconciler.workspace import load_workspace

    if settings:
        text = schema_text(settings_schema())
    else:
        catalog = (workspace_catalog(load_workspace(workspace_dir)) if workspace_dir else load_catalog())
        text = schema_text(manifest_schema(catalog))
    # Exactly the JSON Schema document, no format_version: editors read it as a schema, and
    # its own "$schema" says which draft it follows. -o/--output writes it (output.stdout_to).
    click.echo(text, nl=False)


COMMANDS = [validate, providers, schema]
