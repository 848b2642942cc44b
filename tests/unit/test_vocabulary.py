"""The shared vocabulary: one set of job statuses, health values, kinds and journal operations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import reconciler
from reconciler.vocabulary import ACTIVE_JOB_STATUSES, Health, JobStatus, JournalOp, ObjectKind

PACKAGE = Path(reconciler.__file__).parent


def test_active_statuses_are_the_design_list() -> None:
    # DESIGN.md section 1: running (runnable in the API), sleeping, paused, and the transitional ones.
    assert {s.value for s in ACTIVE_JOB_STATUSES} == {
        "runnable", "sleeping", "paused", "initializing", "pausing", "resuming"}
    assert all(s.is_active for s in ACTIVE_JOB_STATUSES)
    assert not any(s.is_active for s in JobStatus if s not in ACTIVE_JOB_STATUSES)


def test_running_and_paused_partition_the_active_statuses() -> None:
    running = {s for s in JobStatus if s.is_running}
    paused = {s for s in JobStatus if s.is_paused}
    assert running.isdisjoint(paused) and running | paused == set(ACTIVE_JOB_STATUSES)


def test_parse_accepts_the_display_word_and_refuses_others() -> None:
    assert JobStatus.parse("running") is JobStatus.RUNNABLE
    assert JobStatus.parse("paused") is JobStatus.PAUSED
    assert JobStatus.RUNNABLE.display == "running" and JobStatus.KILLED.display == "killed"
    with pytest.raises(ValueError, match="unknown job status 'stopped'"):
        JobStatus.parse("stopped")


def test_values_are_the_stored_and_printed_words() -> None:
    assert f"{ObjectKind.JOB}/x" == "Job/x"
    assert str(JournalOp.REPLACE_CREATE) == "replace-create"
    assert (ObjectKind.AUTHORIZATION, "a") == ("Authorization", "a")
    assert hash(ObjectKind.AUTHORIZATION) == hash("Authorization")


def test_health_order_puts_the_worst_last() -> None:
    assert sorted(Health, key=lambda h: h.severity) == [Health.HEALTHY, Health.UNKNOWN, Health.UNHEALTHY]
    assert Health.UNHEALTHY.is_worse_than(Health.UNKNOWN) and not Health.HEALTHY.is_worse_than(Health.UNKNOWN)


@pytest.mark.parametrize("word", ["sleeping", "runnable", "unhealthy", "DeposedAuthorization", "replace-create"])
def test_no_module_spells_out_the_vocabulary_again(word: str) -> None:
    """A second spelling of a status set is how two of them came to disagree; use reconciler.vocabulary."""
    offenders = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if path.name != "vocabulary.py" and re.search(rf'["\']{re.escape(word)}["\']', path.read_text())]
    assert offenders == []
