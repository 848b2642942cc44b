"""The served platform answers authorizations and jobs as plain dicts: each must be its wire model.

reconciler/served/mapping.py builds them without pydantic (a list of 50,000 jobs is answered
on every plan); these tests are what keeps the dicts and ``AuthOut`` / ``JobOut`` one shape:
the same keys, the model validates the dict, and it dumps to the same JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter

from reconciler.catalog import load_catalog
from reconciler.lytics_wire import AuthOut, JobOut
from reconciler.platform import AuthRecord, JobRecord
from reconciler.served.mapping import auth_out, job_out
from reconciler.vocabulary import Health, JobStatus

CREATED = datetime(2024, 4, 13, 20, 5, tzinfo=UTC)
UPDATED = datetime(2024, 4, 18, 1, 55, tzinfo=UTC)
_ANY = TypeAdapter(object)


def _auth(health: Health) -> AuthRecord:
    return AuthRecord(
        id="a1", provider="facebook", method="system_user_token", type="facebook_system_user",
        label="FB <main>", description="line\nmanaged by authctl (marker m1)", owner="authctl",
        created=CREATED, updated=UPDATED, health=health, health_reason="expired" if health is Health.UNHEALTHY else "",
        health_checked_at=UPDATED, token_expires_at=None, scopes=("ads_read", "ads_management"))


def _job(status: JobStatus) -> JobRecord:
    return JobRecord(id="j1", name="sync", workflow="facebook-audience-populate", status=status, description="",
                     config={"segment_ids": ["s1"], "nested": {"n": 1}}, auth_ids=("a1", "a2"), owner="authctl",
                     created=CREATED, updated=UPDATED)


@pytest.mark.parametrize("health", list(Health))
def test_an_authorization_dict_is_an_auth_out(health: Health) -> None:
    wire = auth_out(_auth(health), load_catalog(), "acct-1")
    assert set(wire) == set(AuthOut.model_fields)
    model = AuthOut.model_validate(wire)
    assert model.status is health and model.unhealthy is (health is Health.UNHEALTHY)
    assert _ANY.dump_json(wire) == model.model_dump_json().encode()


@pytest.mark.parametrize("status", [JobStatus.RUNNABLE, JobStatus.PAUSED, JobStatus.DELETED])
def test_a_job_dict_is_a_job_out(status: JobStatus) -> None:
    wire = job_out(_job(status), "acct-1")
    assert set(wire) == set(JobOut.model_fields)
    model = JobOut.model_validate(wire)
    assert model.deleted is (status is JobStatus.DELETED) and model.auth_ids == ["a1", "a2"]
    assert _ANY.dump_json(wire) == model.model_dump_json().encode()
