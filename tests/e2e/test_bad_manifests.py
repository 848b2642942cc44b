"""A corpus of bad workspaces run through `authctl validate` as a real subprocess.

Each case declares the files it writes and the diagnostics it expects: the exact
``file:LINE:`` location (computed from the text, so the case reads like the file),
the ``Kind/name`` address and field where there is one, and pieces of the message
(the did-you-mean suggestion included). Every case must exit 1 with no traceback.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass

import pytest

CANARY = "CANARY-7f3a9c1e-do-not-print"


def line(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line of ``text`` containing ``needle``."""
    hits = [i for i, row in enumerate(text.splitlines(), 1) if needle in row]
    assert len(hits) >= nth, f"{needle!r} not in the test text"
    return hits[nth - 1]


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@dataclass
class Expect:
    """One expected diagnostic line: ``FILE:LINE: ADDRESS: FIELD: ...`` containing ``parts``."""

    file: str
    line: int | None  # None: a file-level or workspace-level message without a line
    address: str = ""
    field: str = ""
    parts: tuple[str, ...] = ()

    def prefix(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        return ": ".join(p for p in (location, self.address, self.field) if p) + ": "


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes]
    expect: list[Expect]
    settings: str | None = ""
    args: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # must appear in neither stdout nor stderr
    error_count: int | None = None  # "N errors in the manifests"


FB_AUTH = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-ads-main
    spec:
      provider: facebook
      method: system_user
      label: Facebook Ads main
      config:
        ads_account_id: act_1234567890
      credentials:
        access_token: {env: FB_TOKEN}
    """)


def fb_auth(name: str = "fb-ads-main", label: str = "Facebook Ads main") -> str:
    return FB_AUTH.replace("name: fb-ads-main", f"name: {name}").replace(
        "label: Facebook Ads main", f"label: {label}")


GCS_AUTH = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: gcs-exports}
    spec:
      provider: google_cloud
      method: gcs_service_account
      label: GCS exports
      credentials:
        cert_json: {file: secrets/gcs.json}
    """)

MALFORMED = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-ads-main
    spec:
      provider: facebook
    """)

UNDEFINED_VAR = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-ads-main
    spec:
      provider: facebook
      method: system_user
      label: "Facebook Ads {{ region }}"
      config:
        ads_account_id: act_1234567890
      credentials:
        access_token: {env: FB_TOKEN}
    """)

WRONG_TYPES = y("""
    apiVersion: authctl/v1
    kind: Job
    metadata:
      name: fb-audiences
    spec:
      workflow: facebook-audience-populate
      authorizations: fb-ads-main
      state: running
      config: [a, b]
    """)

WRONG_TYPE_LABEL = fb_auth().replace("label: Facebook Ads main", "label: [Facebook, Ads]")

UNKNOWN_KIND = FB_AUTH.replace("kind: Authorization", "kind: Authorisation")
UNKNOWN_API = FB_AUTH.replace("apiVersion: authctl/v1", "apiVersion: authctl/v2")
UNKNOWN_FIELD = FB_AUTH.replace("  label: Facebook", "  lable: Facebook")
UNKNOWN_TOP_FIELD = FB_AUTH + "specs: {}\n"

DUP_NAME_B = fb_auth(label="Another label")

DUP_KEYS = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-ads-main
      name: fb-ads-other
    spec: {}
    """)

BAD_NAME = fb_auth(name="Fb_Ads_Main")
LONG_NAME = fb_auth(name="a" * 64)

JOB = y("""
    apiVersion: authctl/v1
    kind: Job
    metadata:
      name: fb-audiences
    spec:
      workflow: facebook-audience-populate
      authorizations: [fb-ads-main]
      state: running
      config:
        segment_ids: [high_value]
    """)

DANGLING = JOB.replace("[fb-ads-main]", "[fb-ads-mian]")
JOB_BAD_STATE = JOB.replace("state: running", "state: stopped")
JOB_UNKNOWN_WORKFLOW = JOB.replace("workflow: facebook-audience-populate", "workflow: facebook-audience-populat")
JOB_TWICE = JOB.replace("[fb-ads-main]", "[fb-ads-main, fb-ads-main]")

PUBSUB_JOB = y("""
    apiVersion: authctl/v1
    kind: Job
    metadata:
      name: web-events
    spec:
      workflow: pubsub-ingress
      authorizations:
        - gcs-exports
      config:
        stream: web_events
        topic_id: web-events
    """)

LITERAL_CREDENTIAL = FB_AUTH.replace("access_token: {env: FB_TOKEN}", f'access_token: "{CANARY}"')
SECRET_IN_CONFIG = FB_AUTH.replace(
    "    ads_account_id: act_1234567890\n",
    f"    ads_account_id: act_1234567890\n    access_token: {CANARY}\n")
SECRET_AS_ENV_NAME = FB_AUTH.replace("{env: FB_TOKEN}", f'{{env: "{CANARY}"}}')
BAD_REF_SHAPE = FB_AUTH.replace("{env: FB_TOKEN}", "{env: FB_TOKEN, file: token.txt}")

OAUTH_WITH_CREDENTIALS = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-user}
    spec:
      provider: facebook
      method: user_oauth
      label: Facebook user
      credentials:
        access_token: {env: FB_USER_TOKEN}
    """)

UNKNOWN_PROVIDER = FB_AUTH.replace("provider: facebook", "provider: facebok")
UNKNOWN_METHOD = FB_AUTH.replace("method: system_user", "method: sytem_user")
MISSING_REQUIRED = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-ads-main}
    spec:
      provider: facebook
      method: system_user
      label: Facebook Ads main
    """)
PATTERN_MISMATCH = FB_AUTH.replace("ads_account_id: act_1234567890", 'ads_account_id: "1234567890"')
UNKNOWN_CONFIG_FIELD = FB_AUTH.replace("ads_account_id: act_1234567890",
                                       "ads_account_id: act_1234567890\n    ads_acount: act_1")
LIVERAMP_KEY_AS_SECRET = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: liveramp-s3}
    spec:
      provider: liveramp
      method: aws_keys
      label: LiveRamp S3
      config: {}
      credentials:
        access_key: {env: LR_ACCESS_KEY}
        secret_key: {env: LR_SECRET_KEY}
    """)

SANDBOX_ESCAPE = FB_AUTH.replace(
    "label: Facebook Ads main",
    "label: \"{{ cycler.__init__.__globals__.os.popen('echo PWNED').read() }}\"")
TEMPLATE_SYNTAX = FB_AUTH.replace("label: Facebook Ads main", "label: \"{% if %}\"")

CASES: list[Case] = [
    Case("malformed-yaml", {"m.yaml": MALFORMED},
         [Expect("m.yaml", line(MALFORMED, "spec:"), parts=(
             "invalid YAML: did not find expected ',' or '}'",
             f"flow mapping that starts on line {line(MALFORMED, 'metadata:')}"))]),
    Case("jinja-undefined", {"m.yaml": UNDEFINED_VAR},
         [Expect("m.yaml", line(UNDEFINED_VAR, "{{ region }}"),
                 parts=("template error: 'region' is undefined", "environments.<env>.vars"))]),
    Case("jinja-syntax", {"m.yaml": TEMPLATE_SYNTAX},
         [Expect("m.yaml", line(TEMPLATE_SYNTAX, "{% if %}"), parts=("template error:",))]),
    Case("jinja-sandbox", {"m.yaml": SANDBOX_ESCAPE},
         [Expect("m.yaml", line(SANDBOX_ESCAPE, "cycler"), parts=("template error: not allowed",))],
         absent=("PWNED",)),
    Case("wrong-types-job", {"a.yaml": FB_AUTH, "j.yaml": WRONG_TYPES},
         [Expect("j.yaml", line(WRONG_TYPES, "authorizations:"), "Job/fb-audiences", "spec.authorizations",
                 ("must be a list of Authorization names, e.g. [fb-ads-prod], got text (a string)",)),
          Expect("j.yaml", line(WRONG_TYPES, "config:"), "Job/fb-audiences", "spec.config",
                 ("must be a mapping (key: value), got a list",))], error_count=2),
    Case("wrong-type-label", {"m.yaml": WRONG_TYPE_LABEL},
         [Expect("m.yaml", line(WRONG_TYPE_LABEL, "label:"), "Authorization/fb-ads-main", "spec.label",
                 ("must be text (a string), got a list",))], error_count=1),
    Case("unknown-kind", {"m.yaml": UNKNOWN_KIND},
         [Expect("m.yaml", 2, "", "kind", ('unknown kind "Authorisation"', 'did you mean "Authorization"?'))]),
    Case("unknown-api-version", {"m.yaml": UNKNOWN_API},
         [Expect("m.yaml", 1, "Authorization/fb-ads-main", "apiVersion",
                 ('unsupported apiVersion "authctl/v2"', 'expected "authctl/v1"'))]),
    Case("unknown-field", {"m.yaml": UNKNOWN_FIELD},
         [Expect("m.yaml", line(UNKNOWN_FIELD, "lable:"), "Authorization/fb-ads-main", "spec.lable",
                 ('unknown field "lable"', 'did you mean "label"?')),
          Expect("m.yaml", line(UNKNOWN_FIELD, "spec:"), "Authorization/fb-ads-main", "spec.label",
                 ("required field is missing",))]),
    Case("unknown-top-level-field", {"m.yaml": UNKNOWN_TOP_FIELD},
         [Expect("m.yaml", line(UNKNOWN_TOP_FIELD, "specs:"), "Authorization/fb-ads-main", "specs",
                 ('unknown field "specs"', 'did you mean "spec"?'))]),
    Case("duplicate-name", {"a.yaml": FB_AUTH, "b.yaml": DUP_NAME_B},
         [Expect("b.yaml", line(DUP_NAME_B, "name: fb-ads-main"), "Authorization/fb-ads-main", "metadata.name",
                 (f"duplicate of Authorization/fb-ads-main at a.yaml:{line(FB_AUTH, 'name: fb-ads-main')}",))],
         error_count=1),
    Case("duplicate-label-case-insensitive",
         {"a.yaml": FB_AUTH, "b.yaml": fb_auth(name="fb-ads-two", label="FACEBOOK ads MAIN")},
         [Expect("b.yaml", line(FB_AUTH, "label:"), "Authorization/fb-ads-two", "spec.label",
                 ('"FACEBOOK ads MAIN" is a duplicate of the label of Authorization/fb-ads-main at '
                  f"a.yaml:{line(FB_AUTH, 'label:')} (labels must be unique, ignoring case)",))], error_count=1),
    Case("duplicate-yaml-keys", {"m.yaml": DUP_KEYS},
         [Expect("m.yaml", line(DUP_KEYS, "name: fb-ads-other"), parts=("duplicate key 'name'",))]),
    Case("bad-metadata-name", {"m.yaml": BAD_NAME},
         [Expect("m.yaml", line(BAD_NAME, "name: Fb_Ads_Main"), "Authorization/Fb_Ads_Main", "metadata.name",
                 ("lowercase DNS label",))]),
    Case("too-long-metadata-name", {"m.yaml": LONG_NAME},
         [Expect("m.yaml", line(LONG_NAME, "name: aaaa"), f"Authorization/{'a' * 64}", "metadata.name",
                 ("at most 63 characters",))]),
    Case("dangling-reference", {"a.yaml": FB_AUTH, "j.yaml": DANGLING},
         [Expect("j.yaml", line(DANGLING, "authorizations:"), "Job/fb-audiences", "spec.authorizations.0",
                 ('unknown authorization "fb-ads-mian"', 'did you mean "fb-ads-main"?'))]),
    Case("authorization-listed-twice", {"a.yaml": FB_AUTH, "j.yaml": JOB_TWICE},
         [Expect("j.yaml", line(JOB_TWICE, "authorizations:"), "Job/fb-audiences", "spec.authorizations.1",
                 ('authorization "fb-ads-main" is listed twice',))]),
    Case("method-workflow-mismatch", {"gcs.yaml": GCS_AUTH, "job.yaml": PUBSUB_JOB},
         [Expect("job.yaml", line(PUBSUB_JOB, "- gcs-exports"), "Job/web-events", "spec.authorizations.0",
                 ('workflow "pubsub-ingress" does not work with google_cloud/gcs_service_account',
                  "it works with: google_cloud/pubsub_service_account"))]),
    Case("job-state", {"a.yaml": FB_AUTH, "j.yaml": JOB_BAD_STATE},
         [Expect("j.yaml", line(JOB_BAD_STATE, "state:"), "Job/fb-audiences", "spec.state",
                 ('must be running or paused, got "stopped"',))], error_count=1),
    Case("unknown-workflow", {"a.yaml": FB_AUTH, "j.yaml": JOB_UNKNOWN_WORKFLOW},
         [Expect("j.yaml", line(JOB_UNKNOWN_WORKFLOW, "workflow:"), "Job/fb-audiences", "spec.workflow",
                 ('unknown workflow "facebook-audience-populat"', 'did you mean "facebook-audience-populate"?'))]),
    Case("literal-secret-in-credentials", {"m.yaml": LITERAL_CREDENTIAL},
         [Expect("m.yaml", line(LITERAL_CREDENTIAL, "access_token:"), "Authorization/fb-ads-main",
                 "spec.credentials.access_token", ("literal secret", "never commit secrets", "{env: VARIABLE}"))],
         absent=(CANARY,), error_count=1),
    Case("secret-field-in-config", {"m.yaml": SECRET_IN_CONFIG},
         [Expect("m.yaml", line(SECRET_IN_CONFIG, "access_token: CANARY"), "Authorization/fb-ads-main",
                 "spec.config.access_token", ("literal secret", "under spec.credentials"))],
         absent=(CANARY,)),
    Case("secret-pasted-as-env-name", {"m.yaml": SECRET_AS_ENV_NAME},
         [Expect("m.yaml", line(SECRET_AS_ENV_NAME, "access_token:"), "Authorization/fb-ads-main",
                 "spec.credentials.access_token", ("not a valid environment variable name",))],
         absent=(CANARY,), error_count=1),
    Case("secret-ref-shape", {"m.yaml": BAD_REF_SHAPE},
         [Expect("m.yaml", line(BAD_REF_SHAPE, "access_token:"), "Authorization/fb-ads-main",
                 "spec.credentials.access_token", ("exactly one key, env or file",))], error_count=1),
    Case("oauth-with-credentials", {"m.yaml": OAUTH_WITH_CREDENTIALS},
         [Expect("m.yaml", line(OAUTH_WITH_CREDENTIALS, "credentials:"), "Authorization/fb-user",
                 "spec.credentials", ("OAuth connection", "authctl login fb-user"))]),
    Case("unknown-provider", {"m.yaml": UNKNOWN_PROVIDER},
         [Expect("m.yaml", line(UNKNOWN_PROVIDER, "provider:"), "Authorization/fb-ads-main", "spec.provider",
                 ('unknown provider "facebok"', 'did you mean "facebook"?'))]),
    Case("unknown-method", {"m.yaml": UNKNOWN_METHOD},
         [Expect("m.yaml", line(UNKNOWN_METHOD, "method:"), "Authorization/fb-ads-main", "spec.method",
                 ('unknown method "sytem_user" for facebook', 'did you mean "system_user"?'))]),
    Case("missing-required-fields", {"m.yaml": MISSING_REQUIRED},
         [Expect("m.yaml", line(MISSING_REQUIRED, "spec:"), "Authorization/fb-ads-main", "spec.config",
                 ('required config field "ads_account_id"',)),
          Expect("m.yaml", line(MISSING_REQUIRED, "spec:"), "Authorization/fb-ads-main", "spec.credentials",
                 ('required credential "access_token"', "{env: VARIABLE}"))], error_count=2),
    Case("config-pattern-mismatch", {"m.yaml": PATTERN_MISMATCH},
         [Expect("m.yaml", line(PATTERN_MISMATCH, "ads_account_id:"), "Authorization/fb-ads-main",
                 "spec.config.ads_account_id", ('"1234567890" does not match', "act_1234567890"))]),
    Case("unknown-config-field", {"m.yaml": UNKNOWN_CONFIG_FIELD},
         [Expect("m.yaml", line(UNKNOWN_CONFIG_FIELD, "ads_acount:"), "Authorization/fb-ads-main",
                 "spec.config.ads_acount", ('unknown config field "ads_acount"', 'did you mean "ads_account_id"?'))]),
    Case("non-secret-given-as-credential", {"m.yaml": LIVERAMP_KEY_AS_SECRET},
         [Expect("m.yaml", line(LIVERAMP_KEY_AS_SECRET, "access_key:"), "Authorization/liveramp-s3",
                 "spec.credentials.access_key", ("access_key is not secret, put it under spec.config",)),
          Expect("m.yaml", line(LIVERAMP_KEY_AS_SECRET, "config:"), "Authorization/liveramp-s3", "spec.config",
                 ('required config field "access_key"',))], error_count=2),
    Case("not-a-mapping", {"m.yaml": "- just\n- a list\n"},
         [Expect("m.yaml", 1, parts=("expected a mapping with apiVersion, kind, metadata and spec, got list",))]),
    Case("control-character", {"m.yaml": "apiVersion: authctl/v1\nkind: Job\nx: \"\x07\"\n"},
         [Expect("m.yaml", 3, parts=("character #x0007 is not allowed",))]),
    Case("nested-too-deeply", {"m.yaml": "kind: Job\nspec:\n  config:\n    x: " + "{a: " * 3000 + "}" * 3000 + "\n"},
         [Expect("m.yaml", 4, parts=("nested too deeply",))]),
    Case("non-utf8", {"m.yaml": b"apiVersion: authctl/v1\nkind: Authorization\n# caf\xe9\n"},
         [Expect("m.yaml", 3, parts=("not UTF-8 text", "0xe9"))]),
    Case("no-documents", {"m.yaml": "# only a comment\n---\n"},
         [Expect("m.yaml", 1, parts=("no Authorization or Job documents",))]),
    Case("empty-workspace", {},
         [Expect("Error", None, parts=("no manifest files (*.yaml, *.yml) found",))]),
    Case("missing-authctl-yaml", {"m.yaml": FB_AUTH},
         [Expect("Error", None, parts=("is not an authctl workspace: authctl.yaml not found",))], settings=None),
    Case("settings-unknown-field", {"m.yaml": FB_AUTH},
         [Expect("Error: authctl.yaml", 2, "", "enviroments",
                 ('unknown field "enviroments"', 'did you mean "environments"?'))],
         settings="name: demo\nenviroments: {}\n"),
    Case("settings-bad-yaml", {"m.yaml": FB_AUTH},
         [Expect("Error: authctl.yaml", 2, parts=("invalid YAML",))], settings="name: demo\n  vars: [\n"),
    Case("unknown-environment", {"m.yaml": FB_AUTH},
         [Expect("Error: authctl.yaml", 1, "", "environments", parts=("unknown environment 'nope' (environments: prod)",))],
         settings="environments: {prod: {vars: {}}}\n", args=("--env", "nope")),
    Case("every-file-reported",
         {"a.yaml": UNKNOWN_METHOD, "b/c.yaml": DANGLING, "d.yml": b"kind: Job\n\xff\n",
          "e.yaml": MALFORMED},
         [Expect("a.yaml", line(UNKNOWN_METHOD, "method:"), "Authorization/fb-ads-main", "spec.method",
                 ('did you mean "system_user"?',)),
          Expect("b/c.yaml", line(DANGLING, "authorizations:"), "Job/fb-audiences", "spec.authorizations.0",
                 ('unknown authorization "fb-ads-mian"',)),
          Expect("d.yml", 2, parts=("not UTF-8 text",)),
          Expect("e.yaml", line(MALFORMED, "spec:"), parts=("invalid YAML",))], error_count=4),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_workspace_is_reported_cleanly(case: Case, make_workspace, run_cli) -> None:
    root = make_workspace(case.files, settings=case.settings)
    result = run_cli("validate", *case.args, cwd=root)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    for expect in case.expect:
        matching = [row for row in lines if row.startswith(expect.prefix())]
        assert matching, f"no line starts with {expect.prefix()!r} in:\n{result.stderr}"
        assert any(all(part in row for part in expect.parts) for row in matching), (
            f"no {expect.prefix()!r} line contains {expect.parts} in:\n{result.stderr}")
    for text in case.absent:
        assert text not in result.stdout and text not in result.stderr
    if case.error_count is not None:
        noun = "error" if case.error_count == 1 else "errors"
        assert f"Error: {case.error_count} {noun} in the manifests" in result.stderr


def test_defined_variable_makes_the_template_valid(make_workspace, run_cli) -> None:
    settings = "environments:\n  prod:\n    vars: {region: EMEA}\n  staging:\n    vars: {}\n"
    root = make_workspace({"m.yaml": UNDEFINED_VAR}, settings=settings)

    ok = run_cli("validate", "--env", "prod", cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert "Valid: 1 authorizations and 0 jobs in 1 files (environment prod)." in ok.stdout

    missing = run_cli("validate", "--env", "staging", "-w", root)
    assert missing.returncode == 1
    assert f"m.yaml:{line(UNDEFINED_VAR, '{{ region }}')}: template error: 'region' is undefined" in missing.stderr


def test_file_over_the_size_limit(make_workspace, run_cli) -> None:
    root = make_workspace({"ok.yaml": FB_AUTH})
    with (root / "big.yaml").open("w", encoding="utf-8") as handle:
        handle.write(FB_AUTH)
        row = "# " + "x" * 1022 + "\n"
        for _ in range(4 * 1024 + 1):
            handle.write(row)
    result = run_cli("validate", "-w", root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "big.yaml:1: file is 4.0 MiB; manifest files are limited to 4 MiB" in result.stderr


def test_canary_in_a_literal_secret_stays_out_of_json_output(make_workspace, run_cli) -> None:
    root = make_workspace({"m.yaml": LITERAL_CREDENTIAL, "n.yaml": SECRET_IN_CONFIG.replace(
        "fb-ads-main", "fb-ads-two").replace("Facebook Ads main", "Facebook Ads two")})
    result = run_cli("validate", "--format", "json", "--debug", cwd=root)
    assert result.returncode == 1
    assert CANARY not in result.stdout and CANARY not in result.stderr
    fields = {d["field"] for d in json.loads(result.stdout)["error"]["diagnostics"]}
    assert fields == {"spec.credentials.access_token", "spec.config.access_token"}
