"""Issue 17 at the command line: the real Lytics field rules, reported as `file:line: Job/name: spec.config.FIELD`.

A string where the model says integer, a value outside an enum, a list item of the wrong
type and a missing required field are errors (exit 1, nothing planned); a field the
model does not have is a warning only, grouped across jobs. `authctl providers NAME`
shows the document's fields with their descriptions and value rules, in text and JSON.
"""

from __future__ import annotations

import json
import textwrap

from cli_runner import CliRunner, WorkspaceMaker

AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: google}
    spec:
      provider: google_ads
      method: oauth
      label: Google Ads
    """)


def job(name: str, workflow: str, config: str) -> str:
    body = textwrap.indent(textwrap.dedent(config), "    ")
    return (f"---\napiVersion: authctl/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n"
            f"  workflow: {workflow}\n  authorizations: [google]\n  config:\n{body}")


def line_of(text: str, needle: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)


def test_type_enum_item_and_required_rules_name_file_line_and_field(make_workspace: WorkspaceMaker,
                                                                    run_cli: CliRunner) -> None:
    jobs = AUTH + job("match", "adwords-customer-match", """\
        adwords_account_id: "123-456-7890"
        adwords_list_id: "not a number"
        segment_id: vip
        """) + job("enhanced", "google-enhanced-conversions", """\
        conversion_action: purchase
        customer_id: "1234567890"
        segment_id: buyers
        source: somewhere
        conversion_environment: WEB
        """) + job("missing", "adwords-customer-match", """\
        segment_id: vip
        """)
    root = make_workspace({"jobs.yaml": jobs})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert (f"jobs.yaml:{line_of(jobs, 'adwords_list_id')}: Job/match: spec.config.adwords_list_id: "
            "must be a whole number, got text (a string)") in err
    assert (f"jobs.yaml:{line_of(jobs, 'source: somewhere')}: Job/enhanced: spec.config.source: "
            '"somewhere" is not one of:') in err
    assert 'required config field "adwords_account_id"' in err and "Job/missing: spec.config" in err
    assert "Traceback" not in err


def test_fields_the_model_lacks_are_warnings_and_real_fields_validate_clean(make_workspace: WorkspaceMaker,
                                                                           run_cli: CliRunner) -> None:
    real = AUTH + job("match", "adwords-customer-match", """\
        adwords_account_id: "123-456-7890"
        adwords_list_id: 42
        segment_id: vip
        email_field: email
        ad_consent: GRANTED
        """)
    root = make_workspace({"jobs.yaml": real})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0 and "warning" not in (result.stdout + result.stderr).lower(), result.stderr
    guessed = real.replace("email_field: email", "audiences: [vip]")
    root = make_workspace({"jobs.yaml": guessed}, name="guessed")
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0
    assert 'config field "audiences" is not known for workflow adwords-customer-match' in result.stderr


def test_providers_shows_the_documents_fields_with_descriptions_and_rules(run_cli: CliRunner) -> None:
    text = run_cli("providers", "amazon_ads", env={"COLUMNS": "250"})
    assert text.returncode == 0
    assert "models.AmazonDspExport (/job/amazon-dsp-export)" in text.stdout
    assert "advertiser_string" in text.stdout and "one of: AD, AE, AF," in text.stdout
    data = json.loads(run_cli("providers", "amazon_ads", "--format", "json").stdout)
    found = json.dumps(data)
    assert '"api_model": {"model": "models.AmazonAdsAudienceExport"' in found
    assert '"items": "mapping"' in found and '"enum": ["GRANTED"' in found
