"""The dashboard's pure parts, without a server: list addresses, sort orders, filters, charts, fixes, the plan view.

The orders are checked against the CLI's own functions (``views.authorization_rows`` and
``job_rows``, which `status --sort` and `show --sort-jobs` print), over a snapshot with
ties, missing dates and unmanaged objects; the plan view against plans made by the real
planner (plan_fixtures.World); the charts against ``views.requests_json``, the function
`show --format json` prints.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from plan_fixtures import NOW, World, catalog

from reconciler.errors import UsageError
from reconciler.live import HourCount, LiveAuthorization, LiveExperience, LiveJob, RequestCounts, Snapshot
from reconciler.plan_codec import plan_to_dict
from reconciler.state.records import ManagedObject
from reconciler.ui.charts import activity_charts
from reconciler.ui.dataset import AUTH_COLUMNS, JOB_COLUMNS, Dataset
from reconciler.ui.fixes import fixes_for
from reconciler.ui.plan_view import plan_action_for, plan_view
from reconciler.ui.queries import ListQuery, page_of, parse_list_query
from reconciler.ui.templating import make_environment, text
from reconciler.views import JOB_SORT_KEYS, authorization_row, authorization_rows, job_rows, requests_json
from reconciler.vocabulary import Health, JobStatus, ObjectKind

PROVIDERS = [("facebook", "system_user"), ("google_ads", "oauth"), ("pinterest", "capi_token")]
STATUSES = [JobStatus.RUNNABLE, JobStatus.PAUSED, JobStatus.COMPLETED, JobStatus.SLEEPING, JobStatus.FAILED]


def _snapshot(n_auths: int = 120, n_jobs: int = 400, seed: int = 7) -> tuple[Snapshot, dict]:
    """A varied platform: repeated labels (any case), missing dates, unmanaged objects, multi-bound jobs."""
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    auths: dict[str, LiveAuthorization] = {}
    for i in range(n_auths):
        provider, method = rng.choice(PROVIDERS)
        created = None if i % 17 == 0 else base + timedelta(hours=rng.randint(0, 500))
        auths[f"a{i:04d}"] = LiveAuthorization(
            id=f"a{i:04d}", provider=provider, method=method, type=None,
            label=rng.choice(["Ads", "ads", "Zeta", "beta", "Éclair", "alpha"]) + f" {i % 40}",
            description=rng.choice(["", "sync", "Sync", "audiences"]), health=rng.choice(list(Health)),
            health_reason=rng.choice(["", "token expired"]), owner=rng.choice(["", "ops", "Jane"]),
            created=created, updated=None if i % 11 == 0 else base + timedelta(days=rng.randint(0, 90)))
    ids = list(auths)
    jobs: dict[str, LiveJob] = {}
    for i in range(n_jobs):
        bound = tuple(dict.fromkeys(rng.sample(ids, rng.choice([1, 1, 2]))))
        jobs[f"j{i:04d}"] = LiveJob(id=f"j{i:04d}", name=rng.choice(["sync", "Export", "audience"]) + f"-{i % 60}",
                                    workflow=rng.choice(["w1", "w2", "w3"]), status=rng.choice(STATUSES),
                                    auth_ids=bound, created=None if i % 13 == 0 else base + timedelta(minutes=i))
    experiences = {"e1": LiveExperience("e1", "Campaign", (ids[0], ids[1]))}
    managed = {(ObjectKind.AUTHORIZATION, f"name-{i}"): ManagedObject(ObjectKind.AUTHORIZATION, f"name-{i}", a,
                                                                      {}, NOW, {})
               for i, a in enumerate(ids) if i % 3}
    managed |= {(ObjectKind.JOB, f"job-{i}"): ManagedObject(ObjectKind.JOB, f"job-{i}", j, {}, NOW, {})
                for i, j in enumerate(jobs) if i % 2}
    return Snapshot(auths, jobs, experiences, taken_at=NOW), managed


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    snapshot, managed = _snapshot()
    return Dataset(snapshot, managed, NOW)


# -- sort orders are the CLI's ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["label", "description", "provider", "method", "health", "owner", "created",
                                    "updated"])
def test_authorization_orders_are_those_of_status_sort(dataset: Dataset, column: str) -> None:
    cli = [r.id for r in authorization_rows(dataset.snapshot, dataset.managed, sort=column)]
    cli_reversed = [r.id for r in authorization_rows(dataset.snapshot, dataset.managed, sort=column, reverse=True)]
    for order, expected in (("asc", cli), ("desc", cli_reversed)):
        query = ListQuery(sort=column, order=order, per_page=500, default_sort="label")
        page = page_of(dataset.auth_order(column), dataset.authorizations, query)
        assert [r.id for r in page.items] == expected


def test_every_column_shown_is_a_sort_column() -> None:
    from reconciler.ui.pages import AUTH_HEADERS, AUTH_JOB_HEADERS, JOB_HEADERS

    assert tuple(k for k, _ in AUTH_HEADERS) == AUTH_COLUMNS and tuple(k for k, _ in JOB_HEADERS) == JOB_COLUMNS
    assert tuple(k for k, _ in AUTH_JOB_HEADERS) == JOB_SORT_KEYS


def test_the_dashboards_own_columns_sort_too(dataset: Dataset) -> None:
    rows = [dataset.authorizations[i] for i in dataset.auth_order("jobs")]
    assert [(r.jobs_active, r.jobs_total) for r in rows] == sorted((r.jobs_active, r.jobs_total) for r in rows)
    managed = [dataset.authorizations[i].name for i in dataset.auth_order("managed")]
    named = [n for n in managed if n is not None]
    assert named == sorted(named, key=str.casefold) and managed[len(named):] == [None] * (len(managed) - len(named))
    assert set(AUTH_COLUMNS) >= {"jobs", "managed"} and set(JOB_COLUMNS) >= set(JOB_SORT_KEYS)


@pytest.mark.parametrize("column", JOB_SORT_KEYS)
def test_job_orders_are_those_of_show_sort_jobs(dataset: Dataset, column: str) -> None:
    cli = [r.id for r in job_rows(list(dataset.snapshot.jobs.values()), dataset.managed, sort=column)]
    assert [dataset.jobs[i].row.id for i in dataset.job_order(column)] == cli
    one = dataset.authorizations[0].id
    expected = [r.id for r in job_rows([j for j in dataset.snapshot.jobs.values() if one in j.auth_ids],
                                       dataset.managed, sort=column)]
    assert [item.row.id for item in dataset.jobs_of(one, column)] == expected
    assert [item.row.id for item in dataset.jobs_of(one, column, descending=True)] == expected[::-1]


def test_the_rows_are_the_cli_rows(dataset: Dataset) -> None:
    """Each row is `status --format json`'s row for that authorization, job counts from the job index included."""
    names = {o.live_id: o.name for (k, _), o in dataset.managed.items() if k is ObjectKind.AUTHORIZATION}
    for auth in list(dataset.snapshot.authorizations.values())[:30]:
        assert dataset.authorization(auth.id) == authorization_row(auth, dataset.snapshot, names)
        assert len(dataset.jobs_of(auth.id)) == dataset.authorization(auth.id).jobs_total


# -- filters, search and pages ----------------------------------------------------------------------------------------
def test_filters_and_search_select_exactly_the_matching_rows(dataset: Dataset) -> None:
    filters = {"provider": "facebook", "health": "unhealthy"}
    positions = dataset.filtered_authorizations("created", filters, "ADS")
    chosen = {dataset.authorizations[i].id for i in positions}
    expected = {r.id for r in dataset.authorizations
                if r.provider == "facebook" and r.health is Health.UNHEALTHY and "ads" in r.label.casefold()}
    assert chosen == expected and expected  # (the data has some)
    assert positions == [i for i in dataset.auth_order("created") if dataset.authorizations[i].id in expected]
    assert dataset.filtered_authorizations("created", filters, "ADS") is positions  # kept, not recomputed
    jobs = dataset.filtered_jobs("name", {"status": "running", "workflow": "w2"}, "sync")
    assert {dataset.jobs[i].row.id for i in jobs} == {
        j.row.id for j in dataset.jobs if j.row.status == "running" and j.row.workflow == "w2" and "sync" in j.row.name}


def test_pages_cover_every_row_once_in_both_orders(dataset: Dataset) -> None:
    order = dataset.auth_order("label")
    for direction in ("asc", "desc"):
        seen: list[str] = []
        query = ListQuery(sort="label", order=direction, per_page=7, default_sort="label")
        first = page_of(order, dataset.authorizations, query)
        for number in range(1, first.pages + 1):
            page = page_of(order, dataset.authorizations, query.with_page(number))
            assert page.first_number == (number - 1) * 7 + 1 and page.last_number == page.first_number + len(page.items) - 1
            seen += [r.id for r in page.items]
        expected = [dataset.authorizations[i].id for i in order]
        assert seen == (expected if direction == "asc" else expected[::-1])
    with pytest.raises(UsageError, match=r"page: 99 is past the last page \(18\)"):
        page_of(order, dataset.authorizations, ListQuery(sort="label", page=99, per_page=7))
    empty = page_of([], dataset.authorizations, ListQuery(sort="label"))
    assert (empty.items, empty.total, empty.pages, empty.first_number) == ([], 0, 1, 0)


@pytest.mark.parametrize(("params", "message"), [
    ({"sort": "secret"}, "sort: unknown column 'secret' (columns: label, provider)"),
    ({"order": "up"}, "order: expected asc or desc, got 'up'"),
    ({"page": "0"}, "page: expected a whole number from 1, got '0'"),
    ({"page": "-1"}, "page: expected a whole number from 1, got '-1'"),
    ({"per_page": "501"}, "per_page: at most 500, got 501"),
    ({"health": "sick"}, "health: expected one of healthy, unknown, unhealthy, got 'sick'"),
])
def test_a_bad_list_parameter_is_an_error_naming_it(params: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_list_query(params, columns=("label", "provider"), default_sort="label",
                         filters={"health": ("healthy", "unknown", "unhealthy"), "provider": None})
    assert caught.value.message == message


def test_links_keep_the_list_state_and_leave_out_defaults() -> None:
    query = parse_list_query({"sort": "created", "order": "desc", "provider": "facebook", "q": "ads", "page": "3"},
                             columns=("label", "created"), default_sort="label", filters={"provider": None})
    assert query.href("/authorizations", page=4) == \
        "/authorizations?sort=created&order=desc&provider=facebook&q=ads&page=4"
    assert query.sort_href("/authorizations", "created") == "/authorizations?sort=created&provider=facebook&q=ads"
    assert query.sort_href("/authorizations", "label") == "/authorizations?provider=facebook&q=ads"
    assert query.form_params() == {"sort": "created", "order": "desc"}
    second = parse_list_query({"jsort": "status", "jpage": "2", "sort": "ignored"}, columns=JOB_SORT_KEYS,
                              default_sort="name", prefix="j")
    assert (second.sort, second.page) == ("status", 2)
    assert second.sort_href("/authorizations/a1", "status") == "/authorizations/a1?jsort=status&jorder=desc"
    assert ListQuery(sort="label", default_sort="label").href("/authorizations") == "/authorizations"


# -- activity charts ------------------------------------------------------------------------------------------------------
def test_charts_add_up_to_the_counts_show_prints() -> None:
    now = datetime(2026, 3, 10, 14, 25, tzinfo=UTC)
    hour = now.replace(minute=0)
    buckets = {0: 4, 1: 6, 3: 2, 24: 9, 25: 1, 100: 30, 168: 5, 169: 7, 500: 11}
    series = tuple(HourCount(hour - timedelta(hours=h), c) for h, c in sorted(buckets.items(), reverse=True))
    # The platform's windows count whole buckets from the one the window starts in (counters.request_counts).
    counts = RequestCounts(hour=4 + 6, day=sum(c for h, c in buckets.items() if h <= 24),
                           week=sum(c for h, c in buckets.items() if h <= 168), month=sum(buckets.values()),
                           hourly=series)
    charts = {c.key: c for c in activity_charts(requests_json(counts, now))}
    assert [len(charts[k].bars) for k in ("hour", "day", "week", "month")] == [2, 25, 169, 30]
    for key in ("hour", "day", "week", "month"):
        assert charts[key].total == getattr(counts, key)
        assert sum(b.count for b in charts[key].bars) == getattr(counts, key), key
        assert charts[key].bars[-1].current and not any(b.current for b in charts[key].bars[:-1])
    assert charts["day"].peak == 9 and max(b.height for b in charts["day"].bars) == charts["day"].height - 8
    assert charts["hour"].reference_count == 9  # the busiest hour of the last day, as a line
    assert charts["hour"].bars[-1].label == "2026-03-10 14:00–15:00 UTC: 4 requests"
    assert all(b.height >= 1 for b in charts["week"].bars if b.count)  # a bar with requests is never invisible


def test_no_series_means_counts_without_bars_and_no_counts_means_no_charts() -> None:
    counts_only = {"hour": 1, "day": 2, "week": 3, "month": 4, "hourly": []}
    charts = activity_charts(counts_only)
    assert [(c.total, c.has_series) for c in charts] == [(1, False), (2, False), (3, False), (4, False)]
    assert "no hourly series" in charts[0].description
    assert activity_charts(None) == []


# -- fixes -------------------------------------------------------------------------------------------------------------------
def _row(**changes: object):  # type: ignore[no-untyped-def]
    snapshot, _ = _snapshot(3, 0)
    auth = replace(next(iter(snapshot.authorizations.values())), provider="google_ads", method="oauth",
                   health=Health.UNHEALTHY, health_reason="refresh token revoked",
                   health_checked_at=NOW)
    row = authorization_row(auth, snapshot, {auth.id: "gads"})
    return replace(row, **changes)


def test_a_broken_oauth_connection_is_fixed_by_reauth_in_place() -> None:
    oauth = catalog().method("google_ads", "oauth")
    [fix] = fixes_for(_row(), oauth)
    assert fix.commands == ("authctl reauth gads",) and "refresh token revoked" in fix.problem
    [unmanaged] = fixes_for(_row(name=None), oauth)
    assert unmanaged.commands[0].startswith("authctl import NAME ") and unmanaged.commands[1] == "authctl reauth NAME"
    [scopes] = fixes_for(_row(health=Health.HEALTHY), oauth, missing_scopes=("adwords",))
    assert scopes.commands == ("authctl reauth gads",) and "adwords" in scopes.problem
    assert fixes_for(_row(health=Health.HEALTHY), oauth) == []


def test_the_plans_instruction_wins_and_other_credentials_are_rotated_by_apply() -> None:
    oauth = catalog().method("google_ads", "oauth")
    action = {"instruction": "an OAuth connection cannot change config in place: run `authctl login gads` to "
                             "connect a new one (its jobs move to it)", "reasons": ["config changed"]}
    [fix] = fixes_for(_row(), oauth, plan_action=action)
    assert fix.commands == ("authctl login gads",) and fix.problem == "config changed"
    token = catalog().method("pinterest", "capi_token")
    [rotate] = fixes_for(_row(provider="pinterest", method="capi_token"), token)
    assert rotate.commands == ("authctl plan", "authctl apply")
    [check] = fixes_for(_row(health=Health.UNKNOWN, health_checked_at=None), oauth)
    assert check.commands == ("authctl health gads",)


# -- the plan view -------------------------------------------------------------------------------------------------------
def test_blocked_actions_come_first_and_link_their_live_blockers() -> None:
    w = World()
    w.auth("keep")
    w.job("keep-sync", ["keep"])
    gone = w.auth("gone", desired=False)
    blocker = w.unmanaged_job("<b>manual</b>", [w.live_id("gone")])
    w.experience("Campaign", [w.live_id("gone")])
    w.auth("rotated")
    w.job("rotated-sync", ["rotated"])
    w.environ["FB_TOKEN"] = "rotated-token"  # keep and rotated share FB_TOKEN: both replaced
    document = plan_to_dict(w.plan())
    data = Dataset(w.plan_input().snapshot, w.managed, NOW)
    view = plan_view(document, data)
    assert [a.address for a in view.blocked] == ["Authorization/gone"] and gone.name == "gone"
    [job_blocker, experience] = sorted(view.blocked[0].blockers, key=lambda b: b.kind, reverse=True)
    assert (job_blocker.name, job_blocker.href) == ("<b>manual</b>", f"/jobs/{blocker.id}")
    assert experience.kind == "experience" and experience.href is None  # no page for experiences
    assert view.blocked[0].href == f"/authorizations/{w.live_id('gone')}"
    replaces = {a.address: a for a in view.others if a.action == "replace"}
    assert [m.address for m in replaces["Authorization/rotated"].moves] == ["Job/rotated-sync"]
    assert replaces["Authorization/rotated"].moves[0].href == f"/jobs/{w.live_id('rotated-sync', 'Job')}"
    assert view.summary_line == document["summary_line"]
    assert view.others and all(not a.blocked for a in view.others)
    assert plan_view(document, None).blocked[0].blockers[0].href is None  # no snapshot: no links
    assert plan_action_for(document, w.live_id("gone"))["action"] == "delete"
    assert plan_action_for(None, w.live_id("gone")) is None


def test_a_reauthorize_action_carries_its_command() -> None:
    w = World()
    w.auth("gads", provider="google_ads", method="oauth", live_overrides={"health": "unhealthy",
                                                                         "health_reason": "revoked"})
    [action] = plan_view(plan_to_dict(w.plan()), None).others
    assert action.action == "reauthorize" and action.commands == ["authctl reauth gads"]


# -- templates escape ---------------------------------------------------------------------------------------------------------
def test_templates_escape_data_and_show_invisible_characters() -> None:
    env = make_environment()
    assert env.autoescape is not False
    assert env.from_string("{{ v|text }}").render(v='<script>"x"</script>') == \
        "&lt;script&gt;&#34;x&#34;&lt;/script&gt;"
    assert text("abc\u202edcba") == "abc\\u202edcba" and text(None) == ""
