"""The ``lytics`` backend's half of provider checks: batches, a real Lytics without the endpoints, delete warnings.

``httpx2.MockTransport`` plays a platform (as in tests/unit/test_lytics_client.py): a real
Lytics answers ``/v2/_authctl/...`` with 404, which authctl's served platform never does.
The served platform itself is exercised in tests/e2e/test_health_cli.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx2
import pytest

from reconciler.backends import CredentialWorker
from reconciler.backends.http_client import HttpClient
from reconciler.backends.lytics import LyticsBackend
from reconciler.backends.lytics_health import AS_REPORTED
from reconciler.catalog import load_catalog
from reconciler.errors import PermanentBackendError
from reconciler.manifest.secrets import SecretValue
from reconciler.vocabulary import Health

CATALOG = load_catalog()


def ok(data: Any) -> httpx2.Response:
    return httpx2.Response(200, json={"data": data, "status": 200, "request_id": "r", "_meta": {}})


def not_found(path: str) -> httpx2.Response:
    return httpx2.Response(404, json={"errors": [{"code": "NOTFOUND-003", "message": f"no such endpoint: {path}"}],
                                      "status": 404})


def auth(auth_id: str, status: str = "healthy", **extra: Any) -> dict[str, Any]:
    return {"id": auth_id, "type": "fb-system-user", "label": f"FB {auth_id}", "status": status, **extra}


def backend(handler) -> LyticsBackend:  # type: ignore[no-untyped-def]
    http = HttpClient("http://127.0.0.1:8765", SecretValue("t0k"), transport=httpx2.MockTransport(handler),
                      sleep=lambda _: None)
    return LyticsBackend(http, CATALOG)


def test_without_the_endpoint_health_reports_what_the_platform_recorded() -> None:
    def real_lytics(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v2/auth":
            return ok([auth("a1", "unhealthy", unhealthy=True, health_reason="token expired"), auth("a2"),
                       auth("a3", "unknown")])
        return not_found(request.url.path)

    lytics = backend(real_lytics)
    assert isinstance(lytics, CredentialWorker)
    reports = lytics.check_health(["a2", "a1", "gone"])
    assert [(r.auth_id, r.status, r.reason) for r in reports] == [
        ("a2", Health.HEALTHY, AS_REPORTED), ("a1", Health.UNHEALTHY, f"{AS_REPORTED}: token expired")]
    with pytest.raises(PermanentBackendError, match="no refresh endpoint"):
        lytics.refresh_tokens(["a1"])


def test_ids_travel_in_small_batches_a_few_at_once_and_come_back_in_order() -> None:
    asked: list[list[str]] = []

    def served(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        asked.append(body["auth_ids"])
        assert body["concurrency"] == 2  # 8 checks in flight: 4 requests of 2
        return ok({"reports": [{"auth_id": i, "status": "healthy", "requests": 1} for i in body["auth_ids"]],
                   "missing_ids": []})

    ids = [f"a{n}" for n in range(9)]
    reports = backend(served).check_health([*ids, "a1"], concurrency=8)
    assert sorted(map(tuple, asked)) == [tuple(ids[i:i + 2]) for i in range(0, 9, 2)]
    assert [r.auth_id for r in reports] == ids


def test_a_delete_warning_from_the_platform_is_logged_printable(caplog: pytest.LogCaptureFixture) -> None:
    def served(request: httpx2.Request) -> httpx2.Response:
        return ok({"id": "a1", "stopped_job_ids": [], "warnings": ["tokens not revoked\x1b[31m (HTTP 503)"]})

    with caplog.at_level(logging.WARNING, logger="reconciler.backends.lytics"):
        assert backend(served).delete_authorization("a1") == []
    [message] = [r.getMessage() for r in caplog.records]
    assert message == "warning: authorization a1 deleted, but tokens not revoked [31m (HTTP 503)"
