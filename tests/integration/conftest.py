"""Fixtures for the integration tests: real SQLite files under ``tmp_path``, real PostgreSQL.

- ``platform_url`` / ``state_url``: SQLite URLs of fresh files under ``tmp_path``.
- ``platform``: an open guarded :class:`Platform` on ``platform_url`` (closed afterwards).
- ``p``: the same on SQLite and, parametrized, on PostgreSQL.
- ``pg_url``: a fresh PostgreSQL database per test (created on the server named by
  ``AUTHCTL_TEST_PG_URL`` and dropped afterwards); tests using it skip when it is unset.

Like every test (see tests/conftest.py), they run without ``AUTHCTL_PLATFORM_KEY`` unless
they set one, so the key file beside the database is what is used.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from reconciler.platform import Platform, open_platform

PG_ENV = "AUTHCTL_TEST_PG_URL"


@pytest.fixture
def platform_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'platform.db'}"


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def p(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    """An open platform on SQLite and, where ``make test`` started one, on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'platform.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    platform = open_platform(url, key_file=tmp_path / "platform.key")
    try:
        yield platform
    finally:
        platform.close()


@pytest.fixture
def platform(platform_url: str) -> Iterator[Platform]:
    p = open_platform(platform_url)
    try:
        yield p
    finally:
        p.close()


def _admin_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                           password=parsed.password, dbname=parsed.database or "postgres", autocommit=True)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: start a server with scripts/postgres.sh (make test does)")
    name = f"authctl_it_{uuid.uuid4().hex[:12]}"
    with _admin_connect(base) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connect(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
