"""Diagnostics at scale through the real CLI: alike warnings grouped, --all-warnings, JSON, the error cap."""

from __future__ import annotations

import json
import textwrap

AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-ads}
    spec:
      provider: facebook
      method: system_user
      label: Facebook Ads
      config: {ads_account_id: act_1234567890}
      credentials: {access_token: {env: FB_TOKEN}}
    """)
WORKFLOW = "facebook-audience-populate"
SUMMARY = f'jobs set config field "campaign_id", which workflow {WORKFLOW} does not define'
MESSAGE = (f'config field "campaign_id" is not known for workflow {WORKFLOW} (fields: ads_account_id, '
           "audience_description, audience_name, audience_source, duplicate_exports, hashed_email_field, "
           "identifier_field, mappings, opt_out_link, segment_id and 2 more: `authctl providers`)")


def job(name: str, auth: str = "fb-ads") -> str:
    return textwrap.dedent(f"""\
        apiVersion: authctl/v1
        kind: Job
        metadata: {{name: {name}}}
        spec:
          workflow: {WORKFLOW}
          authorizations: [{auth}]
          config:
            segment_ids: [high_value]
            campaign_id: cmp-{name}
        """)


def jobs(*names: str, auth: str = "fb-ads") -> str:
    return "---\n".join(job(name, auth) for name in names)


def lines_of(text: str, needle: str) -> list[int]:
    return [n for n, row in enumerate(text.splitlines(), 1) if needle in row]


FILES = {"auth.yaml": AUTH, "jobs/a.yaml": jobs("a1", "a2", "a3"), "jobs/b.yaml": jobs("b1", "b2")}
A_LINES = lines_of(FILES["jobs/a.yaml"], "campaign_id:")
B_LINES = lines_of(FILES["jobs/b.yaml"], "campaign_id:")
EACH = [f"warning: jobs/{file}:{line}: Job/{file[0]}{n}: spec.config.campaign_id: {MESSAGE}"
        for file, lines in (("a.yaml", A_LINES), ("b.yaml", B_LINES)) for n, line in enumerate(lines, 1)]


def test_alike_warnings_are_one_line_with_the_count_and_the_first_locations(make_workspace, run_cli) -> None:
    root = make_workspace(FILES)
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Valid: 1 authorizations and 5 jobs in 3 files."
    a1, a2, a3 = A_LINES
    assert result.stderr.splitlines() == [
        f"warning: 5 {SUMMARY} (jobs/a.yaml:{a1}, jobs/a.yaml:{a2}, jobs/a.yaml:{a3}, ...; --all-warnings lists each)"]


def test_all_warnings_lists_each_as_before(make_workspace, run_cli) -> None:
    root = make_workspace(FILES)
    result = run_cli("validate", "--all-warnings", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == EACH


def test_json_carries_every_warning(make_workspace, run_cli) -> None:
    root = make_workspace(FILES)
    result = run_cli("validate", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    warnings = json.loads(result.stdout)["warnings"]
    assert [(w["file"], w["line"], w["address"]) for w in warnings] == (
        [("jobs/a.yaml", line, f"Job/a{n}") for n, line in enumerate(A_LINES, 1)]
        + [("jobs/b.yaml", line, f"Job/b{n}") for n, line in enumerate(B_LINES, 1)])
    assert all(w == {"file": w["file"], "line": w["line"], "address": w["address"], "field": "spec.config.campaign_id",
                     "message": MESSAGE, "severity": "warning", "rule": "unknown-config-field"} for w in warnings)


def test_a_single_warning_prints_exactly_as_before(make_workspace, run_cli) -> None:
    root = make_workspace({"auth.yaml": AUTH, "jobs.yaml": job("only")})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    line = lines_of(job("only"), "campaign_id:")[0]
    assert result.stderr == f"warning: jobs.yaml:{line}: Job/only: spec.config.campaign_id: {MESSAGE}\n"


def test_errors_are_capped_at_200_and_json_lists_every_one(make_workspace, run_cli) -> None:
    names = [f"j{n:03d}" for n in range(205)]
    text = jobs(*names, auth="fb-adz")
    root = make_workspace({"auth.yaml": AUTH, "jobs.yaml": text})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    rows = result.stderr.splitlines()
    auth_lines = lines_of(text, "authorizations:")
    expected = [f'jobs.yaml:{line}: Job/{name}: spec.authorizations.0: unknown authorization "fb-adz"; '
                'did you mean "fb-ads"? (use the manifest name of an Authorization)'
                for name, line in zip(names, auth_lines)]
    errors = [row for row in rows if row.startswith("jobs.yaml:")]
    assert errors == expected[:200]
    assert rows[-2:] == ["... and 5 more errors (--format json lists every one)", "Error: 205 errors in the manifests"]
    campaign = lines_of(text, "campaign_id:")
    assert f"warning: 205 {SUMMARY} (jobs.yaml:{campaign[0]}, jobs.yaml:{campaign[1]}, jobs.yaml:{campaign[2]}, ...; " \
           "--all-warnings lists each)" in rows

    as_json = run_cli("validate", "--format", "json", cwd=root)
    assert as_json.returncode == 1
    diagnostics = json.loads(as_json.stdout)["error"]["diagnostics"]
    errors_json = [d for d in diagnostics if d["severity"] == "error"]
    assert len(errors_json) == 205 and len(diagnostics) == 410
    assert [(d["line"], d["address"], d["rule"]) for d in errors_json] == [
        (line, f"Job/{name}", "unknown-authorization") for name, line in zip(names, auth_lines)]
    assert {d["rule"] for d in diagnostics if d["severity"] == "warning"} == {"unknown-config-field"}


def test_all_warnings_also_beside_errors(make_workspace, run_cli) -> None:
    root = make_workspace({**FILES, "broken.yaml": job("broken", auth="nothing-here")})
    grouped = run_cli("validate", cwd=root)
    assert grouped.returncode == 1
    assert [row for row in grouped.stderr.splitlines() if row.startswith("warning: ")] == [
        f"warning: 6 {SUMMARY} (broken.yaml:9, jobs/a.yaml:{A_LINES[0]}, jobs/a.yaml:{A_LINES[1]}, ...; "
        "--all-warnings lists each)"]
    each = run_cli("validate", "--all-warnings", cwd=root)
    assert each.returncode == 1
    rows = each.stderr.splitlines()
    assert [row for row in rows if row.startswith("warning: jobs/")] == EACH
    assert "Error: 1 error in the manifests" in rows


def test_plan_groups_manifest_warnings_too(make_workspace, run_cli) -> None:
    root = make_workspace(FILES, settings="name: grouped\n")
    env = {"AUTHCTL_PLATFORM_KEY": None, "FB_TOKEN": None}
    grouped = run_cli("plan", cwd=root, env=env)
    assert grouped.returncode == 0, grouped.stderr
    assert grouped.stderr.splitlines()[0].startswith(f"warning: 5 {SUMMARY} (jobs/a.yaml:")
    assert "Plan: 6 to create" in grouped.stdout
    each = run_cli("plan", "--all-warnings", "--format", "markdown", cwd=root, env=env)
    assert each.returncode == 0, each.stderr
    assert each.stderr.splitlines() == EACH


def test_apply_shows_the_manifest_warnings_before_the_plan(make_workspace, run_cli) -> None:
    root = make_workspace(FILES, settings="name: grouped\n")
    result = run_cli("apply", "--auto-approve", "--all-warnings", cwd=root,
                     env={"AUTHCTL_PLATFORM_KEY": None, "FB_TOKEN": "token-for-the-test"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.splitlines() == EACH
    assert "Apply complete" in result.stdout
