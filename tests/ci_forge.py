"""GitHub's and GitLab's REST APIs as the CI files of examples/ci/ call them, on 127.0.0.1, for the tests.

Importable as ``ci_forge`` (pytest puts ``tests/`` on ``sys.path``). ``FakeForge`` is a real
HTTP server (``http.server``) holding its state in memory and recording every request:

- GitHub: a pull request's issue comments (listed with ``Link`` pagination, posted, edited),
  a pull request's head commit, artifacts listed by name (of the repository or of one
  workflow run) and downloaded through a redirect to blob storage on another host name,
  as GitHub does; tokens are "write" or "read" (a fork's run: any write is 403).
- GitLab: ``/user``, a merge request's notes (``Link`` pagination, post, edit), a public
  project's job list and job artifact archives (readable without a token).
- The provider endpoints ``authctl health`` calls for Facebook and Pinterest (with
  ``provider_overrides`` in authctl.yaml), answering 200 or the status a test sets.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

REPOSITORY = "acme/authz"
FORK = "someone/authz"
PROJECT_ID = "41"

# -- the forge: GitHub's and GitLab's APIs, and the providers' health endpoints ----------------

@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


class FakeForge:
    """GitHub's and GitLab's REST APIs as the CI files use them, and two providers' health checks, on 127.0.0.1.

    GitHub tokens are "write" (the workflow's token with pull-requests: write) or "read" (a
    fork's run: any write is 403, as GitHub answers). GitLab tokens are a project access
    token's user; a public project's jobs and artifacts are readable without one.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.github_tokens: dict[str, str] = {}
        self.gitlab_tokens: dict[str, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.pulls: dict[int, str] = {}  # number -> head sha
        self.artifacts: list[dict[str, Any]] = []  # GitHub artifacts (the API's fields)
        self.blobs: dict[int, bytes] = {}
        self.jobs: list[dict[str, Any]] = []  # GitLab jobs, newest first
        self.job_archives: dict[int, bytes] = {}
        self.provider_status: dict[str, int] = {"pinterest": 200, "facebook": 200}
        self._ids = iter(range(5000, 10**6))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True)

    @property
    def github_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/github"

    @property
    def gitlab_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/gitlab/api/v4"

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_id(self) -> int:
        return next(self._ids)

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.writes and r.path.startswith(("/github", "/gitlab"))]

    def add_github_artifact(self, name: str, files: Mapping[str, bytes], *, run_id: int, branch: str,
                            from_fork: bool = False, created_at: str = "2026-01-01T00:00:00Z") -> None:
        number = self.next_id()
        self.blobs[number] = zip_bytes(files)
        self.artifacts.append({"id": number, "name": name, "expired": False, "created_at": created_at,
                               "archive_download_url": f"{self.github_url}/repos/{REPOSITORY}/actions/artifacts/"
                                                       f"{number}/zip",
                               "workflow_run": {"id": run_id, "repository_id": 1, "head_branch": branch,
                                                "head_repository_id": 2 if from_fork else 1, "head_sha": "f" * 40}})

    def add_gitlab_job(self, name: str, ref: str, files: Mapping[str, bytes] | None) -> int:
        number = self.next_id()
        if files is not None:
            self.job_archives[number] = zip_bytes(files)
        self.jobs.insert(0, {"id": number, "name": name, "ref": ref, "status": "success",
                             "finished_at": "2026-01-01T00:00:00Z",
                             "artifacts_file": {"filename": "artifacts.zip"} if files is not None else None})
        return number

    @contextmanager
    def running(self) -> Iterator[FakeForge]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _page(items: list[dict[str, Any]], query: Mapping[str, list[str]], default: int) -> tuple[list[Any], int | None]:
    size = min(int(query.get("per_page", [default])[0]), 100)
    page = int(query.get("page", ["1"])[0])
    chunk = items[(page - 1) * size: page * size]
    return chunk, page + 1 if page * size < len(items) else None


def _handler(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, data: Any = None, *, raw: bytes | None = None,
                    headers: Mapping[str, str] | None = None) -> None:
            body = raw if raw is not None else (b"" if data is None else json.dumps(data).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/zip" if raw is not None else "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _listing(self, items: list[dict[str, Any]], query: Mapping[str, list[str]], default: int,
                     wrap: str | None = None) -> None:
            chunk, following = _page(items, query, default)
            headers = {}
            if following:
                flat = {k: v[0] for k, v in query.items()}
                headers["Link"] = f'<http://127.0.0.1:{forge.port}{urlsplit(self.path).path}?' \
                                  f'{urlencode({**flat, "page": following})}>; rel="next"'
            self._answer(200, {"total_count": len(items), wrap: chunk} if wrap else chunk, headers=headers)

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            query = parse_qs(split.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            request = Request(method, split.path, query, {k.lower(): v for k, v in self.headers.items()}, body)
            with forge._lock:
                forge.requests.append(request)
                if split.path.startswith("/github/"):
                    self._github(request, split.path[len("/github"):])
                elif split.path.startswith("/gitlab/api/v4/"):
                    self._gitlab(request, split.path[len("/gitlab/api/v4"):])
                elif split.path.startswith("/blob/"):
                    self._answer(200, raw=forge.blobs[int(split.path.rsplit("/", 1)[1])])
                elif split.path.startswith("/v21.0/debug_token"):
                    status = forge.provider_status["facebook"]
                    self._answer(status, {"data": {"is_valid": status == 200}})
                elif split.path.startswith("/v5/"):
                    status = forge.provider_status["pinterest"]
                    self._answer(status, {} if status == 200 else {"code": 2, "message": "Authentication failed."})
                else:
                    self._answer(404, {"message": "Not Found"})

        def _github(self, request: Request, path: str) -> None:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            access = forge.github_tokens.get(token)
            if access is None:
                return self._answer(401, {"message": "Bad credentials"})
            if request.writes and access != "write":
                return self._answer(403, {"message": "Resource not accessible by integration"})
            repo = f"/repos/{REPOSITORY}"
            if match := re.fullmatch(rf"{repo}/issues/(\d+)/comments", path):
                thread = forge.comments.setdefault(int(match.group(1)), [])
                if request.method == "GET":
                    return self._listing(thread, request.query, 30)
                comment = {"id": forge.next_id(), "body": request.body["body"],
                           "user": {"login": "github-actions[bot]", "type": "Bot"}}
                thread.append(comment)
                return self._answer(201, comment)
            if (match := re.fullmatch(rf"{repo}/issues/comments/(\d+)", path)) and request.method == "PATCH":
                for comment in (c for thread in forge.comments.values() for c in thread):
                    if comment["id"] == int(match.group(1)):
                        comment["body"] = request.body["body"]
                        return self._answer(200, comment)
                return self._answer(404, {"message": "Not Found"})
            if match := re.fullmatch(rf"{repo}/pulls/(\d+)", path):
                return self._answer(200, {"number": int(match.group(1)),
                                          "head": {"sha": forge.pulls.get(int(match.group(1)), "0" * 40)}})
            if match := re.fullmatch(rf"{repo}/actions/(?:runs/(\d+)/)?artifacts", path):
                run = int(match.group(1)) if match.group(1) else None
                name = request.query.get("name", [None])[0]
                found = [a for a in reversed(forge.artifacts) if (name is None or a["name"] == name)
                         and (run is None or a["workflow_run"]["id"] == run)]
                return self._listing(found, request.query, 30, wrap="artifacts")
            if match := re.fullmatch(rf"{repo}/actions/artifacts/(\d+)/zip", path):
                # GitHub answers with a redirect to blob storage, another host
                return self._answer(302, headers={"Location": f"http://localhost:{forge.port}/blob/{match.group(1)}"})
            return self._answer(404, {"message": "Not Found"})

        def _gitlab(self, request: Request, path: str) -> None:
            user = forge.gitlab_tokens.get(request.headers.get("private-token", ""))
            if path == "/user":
                return self._answer(200, user) if user else self._answer(401, {"message": "401 Unauthorized"})
            project = f"/projects/{PROJECT_ID}"
            if match := re.fullmatch(rf"{project}/merge_requests/(\d+)/notes(?:/(\d+))?", path):
                if user is None:
                    return self._answer(401, {"message": "401 Unauthorized"})
                notes = forge.notes.setdefault(int(match.group(1)), [])
                if request.method == "GET":
                    return self._listing(notes, request.query, 20)
                if request.method == "POST":
                    note = {"id": forge.next_id(), "body": request.body["body"], "system": False, "author": user}
                    notes.append(note)
                    return self._answer(201, note)
                for note in notes:
                    if note["id"] == int(match.group(2) or 0) and request.method == "PUT":
                        note["body"] = request.body["body"]
                        return self._answer(200, note)
                return self._answer(404, {"message": "404 Not found"})
            if path == f"{project}/jobs":  # public project: readable without a token
                scope = request.query.get("scope[]", [])
                return self._listing([j for j in forge.jobs if not scope or j["status"] in scope], request.query, 20)
            if match := re.fullmatch(rf"{project}/jobs/(\d+)/artifacts", path):
                archive = forge.job_archives.get(int(match.group(1)))
                return self._answer(200, raw=archive) if archive else self._answer(404, {"message": "404 Not found"})
            return self._answer(404, {"message": "404 Not found"})

        def do_GET(self) -> None:  # noqa: N802 - http.server's names
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._handle("PATCH")

        def do_PUT(self) -> None:  # noqa: N802
            self._handle("PUT")

    return Handler
