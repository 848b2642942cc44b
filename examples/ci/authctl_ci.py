#!/usr/bin/env python3
"""The CI side of authctl: one plan comment per pull request, artifacts fetched by name, the check's verdict.

The CI files beside this one (github-actions.yml, github-actions-fork-comment.yml and
gitlab-ci.yml) call it; copy it into your repository as ``ci/authctl_ci.py``. It needs
Python 3.9 or later and nothing but its standard library, so it runs on any runner that
runs authctl.

    comment {github|gitlab}         post the plan as the request's one authctl comment, or edit it
    fetch-artifact {github|gitlab}  download the newest artifact of a name and unpack it
    verdict EXIT_CODE               the check's exit code for `authctl plan --detailed-exitcode`'s

One comment, not one per push: the comment starts with a hidden marker
(``<!-- authctl-plan:prod -->``, one per environment), and each run looks for the comment
that starts with it *and* was written by the account posting now (``github-actions[bot]``,
or the GitLab token's own user), then edits that one in place (PATCH / PUT) or posts a new
one. A comment by anyone else is never edited, even when it quotes the marker.

A plan too long for one comment (GitHub takes 65,536 characters) is cut at a line, open
code blocks and ``<details>`` are closed, and a last line points to the artifact that holds
the whole plan.

Tokens come from environment variables only (``GITHUB_TOKEN``, ``AUTHCTL_GITLAB_TOKEN``),
never from arguments, which CI logs and process lists show; no message prints one. The token
goes only to the API's own host: not to a pagination link elsewhere, not along a redirect
(artifact downloads redirect to blob storage, which gets no token).

Exit codes: 0 done; 1 an API, network or artifact problem, one line on stderr; 2 bad usage.
``verdict`` exits 0 for a plan without changes or with changes, 3 for a BLOCKED plan and 1
for anything else.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

GITHUB_COMMENT_LIMIT = 65_536  # GitHub refuses a longer comment body
GITLAB_NOTE_LIMIT = 1_000_000  # GitLab's note limit
GITHUB_ACTIONS_BOT = "github-actions[bot]"  # who posts with the workflow's GITHUB_TOKEN
GITLAB_TOKEN_ENV = "AUTHCTL_GITLAB_TOKEN"
MAX_ARTIFACT_BYTES = 256 * 1024 * 1024  # a snapshot of 60,000 objects is far below this
MAX_ARTIFACT_FILES = 1_000
MAX_PAGES = 20  # of 100 items: how far back a listing is read
TIMEOUT_SECONDS = 60
_MARKER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_FENCE = re.compile(r"(`{3,}|~{3,})")

# What the comment's first line says for each exit code of `authctl plan --detailed-exitcode`.
HEADLINES = {
    0: ":white_check_mark: **No changes.**",
    2: ":memo: **Changes to review.** Merging applies them.",
    3: (":no_entry: **BLOCKED: this check fails.** Some deletes would remove what an active job or an "
        "imported experience still uses (named below), so this change cannot converge. Stop those jobs "
        "(or keep what they use), then run the check again."),
    1: ":x: **The plan failed: this check fails.** What went wrong is below.",
}


class Failure(Exception):
    """A one-line error for the CI log (exit 1); it never holds a token."""


# -- HTTP --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Failure(f"the API answered HTTP {self.status} with something that is not JSON") from None


class Api:
    """A JSON API under ``base`` with one authentication header, sent to ``base``'s host only."""

    def __init__(self, base: str, auth: tuple[str, str] | None) -> None:
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Failure(f"the API URL {base!r} is not an http(s) URL")
        self.base = base.rstrip("/")
        self.origin = (parts.scheme, parts.netloc)
        self._auth = auth

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base + path
        return f"{url}?{urllib.parse.urlencode(query, doseq=True)}" if query else url

    def call(self, method: str, path: str, payload: Any = None, *, query: Mapping[str, Any] | None = None,
             limit: int = 16 * 1024 * 1024) -> Response:
        url = self.url(path, query)
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "authctl-ci")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        split = urllib.parse.urlsplit(url)
        if self._auth and (split.scheme, split.netloc) == self.origin:
            # unredirected: a redirect (to blob storage, say) never carries the token along
            request.add_unredirected_header(*self._auth)
        where = f"{method} {split.path}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                body = answer.read(limit + 1)
                if len(body) > limit:
                    raise Failure(f"{where}: the answer is larger than {limit:,} bytes")
                return Response(answer.status, answer.headers, body)
        except urllib.error.HTTPError as exc:
            raise Failure(f"{where}: HTTP {exc.code}{_api_message(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Failure(f"{where}: cannot reach {split.netloc} ({reason})") from None

    def items(self, path: str, query: Mapping[str, Any], *, key: str | None = None,
              max_pages: int = MAX_PAGES) -> Iterator[dict[str, Any]]:
        """Every item of a listing, page after page (``Link: <...>; rel="next"``, as GitHub and GitLab send)."""
        url: str | None = self.url(path, query)
        for _ in range(max_pages):
            if url is None:
                return
            answer = self.call("GET", url)
            page = answer.json()
            page = page.get(key) if key and isinstance(page, dict) else page
            if not isinstance(page, list):
                raise Failure(f"GET {urllib.parse.urlsplit(url).path}: not a list")
            yield from (item for item in page if isinstance(item, dict))
            url = self._next(answer)

    def _next(self, answer: Response) -> str | None:
        match = _NEXT_LINK.search(answer.headers.get("Link") or "")
        if not match:
            return None
        split = urllib.parse.urlsplit(match.group(1))
        if (split.scheme, split.netloc) != self.origin:
            raise Failure(f"the next page is on another host ({split.netloc}): not followed")
        return match.group(1)


def _api_message(exc: urllib.error.HTTPError) -> str:
    """`` (the API's message)`` from an error body, shortened; empty when there is none."""
    try:
        data = json.loads(exc.read(64 * 1024).decode("utf-8"))
    except Exception:  # noqa: BLE001 - any unreadable body just has no message
        return ""
    message = data.get("message") or data.get("error") if isinstance(data, dict) else None
    return f" ({' '.join(str(message).split())[:300]})" if message else ""


# -- the pull or merge request's comments ------------------------------------------------------

class Thread(Protocol):
    """The comments of one pull request (GitHub) or merge request (GitLab)."""

    limit: int

    def find(self, marker: str) -> dict[str, Any] | None: ...
    def create(self, body: str) -> dict[str, Any]: ...
    def update(self, comment: dict[str, Any], body: str) -> dict[str, Any]: ...


class GitHubThread:
    """A pull request's conversation: issue comments (``/repos/R/issues/N/comments``)."""

    limit = GITHUB_COMMENT_LIMIT

    def __init__(self, api: Api, repository: str, number: int, author: str) -> None:
        self.api, self.repo, self.number, self.author = api, repository, number, author

    def find(self, marker: str) -> dict[str, Any] | None:
        for comment in self.api.items(f"/repos/{self.repo}/issues/{self.number}/comments", {"per_page": 100}):
            if (comment.get("user") or {}).get("login") == self.author and \
                    str(comment.get("body") or "").startswith(marker):
                return comment
        return None

    def create(self, body: str) -> dict[str, Any]:
        return self.api.call("POST", f"/repos/{self.repo}/issues/{self.number}/comments", {"body": body}).json()

    def update(self, comment: dict[str, Any], body: str) -> dict[str, Any]:
        return self.api.call("PATCH", f"/repos/{self.repo}/issues/comments/{int(comment['id'])}",
                             {"body": body}).json()

    def head_sha(self) -> str:
        pull = self.api.call("GET", f"/repos/{self.repo}/pulls/{self.number}").json()
        return str(((pull or {}).get("head") or {}).get("sha") or "")


class GitLabThread:
    """A merge request's notes (``/projects/P/merge_requests/IID/notes``); ours are the token user's."""

    limit = GITLAB_NOTE_LIMIT

    def __init__(self, api: Api, project: str, iid: int) -> None:
        self.api, self.iid = api, iid
        self.path = f"/projects/{urllib.parse.quote(project, safe='')}/merge_requests/{iid}/notes"

    def find(self, marker: str) -> dict[str, Any] | None:
        me = (self.api.call("GET", "/user").json() or {}).get("id")
        if me is None:
            raise Failure("GET /user: the token's user has no id")
        for note in self.api.items(self.path, {"per_page": 100, "sort": "asc", "order_by": "created_at"}):
            if not note.get("system") and (note.get("author") or {}).get("id") == me and \
                    str(note.get("body") or "").startswith(marker):
                return note
        return None

    def create(self, body: str) -> dict[str, Any]:
        return self.api.call("POST", self.path, {"body": body}).json()

    def update(self, comment: dict[str, Any], body: str) -> dict[str, Any]:
        return self.api.call("PUT", f"{self.path}/{int(comment['id'])}", {"body": body}).json()


# -- the comment's text ------------------------------------------------------------------------

def marker_line(key: str) -> str:
    if not _MARKER_KEY.fullmatch(key):
        raise Failure(f"--marker {key!r}: use letters, digits and _ . : / - (e.g. authctl-plan:prod)")
    return f"<!-- {key} -->"


def text_size(text: str) -> int:
    """Length as GitHub counts it at most (UTF-16 units: a character outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def headline(exit_code: int) -> str:
    return HEADLINES.get(exit_code, f":x: **authctl plan exited with {exit_code}: this check fails.**")


def _code(value: str) -> str:
    return "`" + value.replace("`", "'") + "`"


def footer(*, commit: str | None, run_url: str | None, artifact: str | None) -> str:
    parts = [f"commit {_code(commit[:12])}"] if commit else []
    if run_url and re.fullmatch(r"https?://[^\s()<>]+", run_url):
        parts.append(f"[CI run]({run_url})")
    if artifact:
        parts.append(f"the whole plan: artifact {_code(artifact)}")
    return f"<sub>{' · '.join(parts)}</sub>" if parts else ""


def close_open_blocks(lines: list[str]) -> list[str]:
    """The lines that close what ``lines`` leave open: a code fence, then ``<details>`` elements."""
    fence: str | None = None
    details = 0
    for line in lines:
        stripped = line.strip()
        if fence is None:
            match = _FENCE.match(stripped)
            if match:
                fence = match.group(1)
                continue
            details += stripped.count("<details") - stripped.count("</details>")
        elif stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            fence = None
    return ([fence] if fence else []) + ["</details>"] * max(details, 0)


def compose(key: str, plan_markdown: str, exit_code: int, *, limit: int, note: str | None = None,
            commit: str | None = None, run_url: str | None = None, artifact: str | None = None) -> str:
    """The whole comment: marker, headline, optional note, the plan (cut to fit ``limit``), footer."""
    head = [marker_line(key), headline(exit_code), ""] + ([note, ""] if note else [])
    tail = ["", footer(commit=commit, run_url=run_url, artifact=artifact)]
    plan = plan_markdown.strip() or f"_authctl plan printed nothing (exit {exit_code}): the CI log says why._"
    body = "\n".join([*head, plan, *tail]) + "\n"
    if text_size(body) <= limit:
        return body
    where = f"the artifact {_code(artifact)}" if artifact else "the CI run's log"
    cut_note = (f"_… cut here: the plan is longer than one comment can hold ({limit:,} characters). "
                f"The whole plan is in {where}._")
    room = limit - text_size("\n".join([*head, "", cut_note, *tail]) + "\n") - 200  # 200: closing lines
    kept: list[str] = []
    for line in plan.splitlines():
        room -= text_size(line) + 1
        if room < 0:
            break
        kept.append(line)
    return "\n".join([*head, *kept, *close_open_blocks(kept), "", cut_note, *tail]) + "\n"


def post(thread: Thread, key: str, body: str) -> str:
    """Edit the marked comment (unless it already says ``body``) or post one; what was done, for the log."""
    existing = thread.find(marker_line(key))
    if existing is None:
        made = thread.create(body)
        return f"posted comment {made.get('id')}"
    if str(existing.get("body") or "") == body:
        return f"comment {existing.get('id')} already says this"
    thread.update(existing, body)
    return f"updated comment {existing.get('id')}"


# -- artifacts ---------------------------------------------------------------------------------

def unpack(data: bytes, into: Path, expect: list[str]) -> list[str]:
    """Unpack the zip ``data`` into the new (or empty) folder ``into``; the names written.

    Refused: a path that is absolute or climbs out (``..``), a symbolic link, more than
    MAX_ARTIFACT_FILES files or MAX_ARTIFACT_BYTES bytes; and an ``into`` that is a symbolic
    link or holds anything already, so nothing planted there beforehand is written through.
    """
    if into.is_symlink() or (into.exists() and (not into.is_dir() or any(into.iterdir()))):
        raise Failure(f"{into}: unpack needs a new or empty folder")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Failure("the artifact is not a zip archive") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_ARTIFACT_FILES:
        raise Failure(f"the artifact holds more than {MAX_ARTIFACT_FILES} files")
    for member in members:
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in member.filename or ":" in member.filename:
            raise Failure(f"the artifact's {member.filename!r} would land outside {into}: refused")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise Failure(f"the artifact's {member.filename!r} is a symbolic link: refused")
    into.mkdir(parents=True, exist_ok=True)
    written, total = [], 0
    for member in members:
        target = into.joinpath(*PurePosixPath(member.filename).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source:
            content = source.read(MAX_ARTIFACT_BYTES - total + 1)
        total += len(content)
        if total > MAX_ARTIFACT_BYTES:
            raise Failure(f"the artifact unpacks to more than {MAX_ARTIFACT_BYTES:,} bytes")
        target.write_bytes(content)
        written.append(member.filename)
    missing = [name for name in expect if name not in written]
    if missing:
        raise Failure(f"the artifact holds no {', '.join(missing)} (it holds: {', '.join(written) or 'nothing'})")
    return written


def newest_github_artifact(api: Api, repository: str, name: str, *, run_id: int | None,
                           branch: str | None) -> dict[str, Any]:
    """The newest unexpired artifact ``name``: of workflow run ``run_id``, or made on ``branch`` of this repository.

    Without a run id, artifacts made by runs from forks (a fork's pull request also uploads
    artifacts here, under any name it likes) or from other branches are not candidates.
    """
    path = f"/repos/{repository}/actions/runs/{run_id}/artifacts" if run_id else \
        f"/repos/{repository}/actions/artifacts"
    found = []
    for artifact in api.items(path, {"name": name, "per_page": 100}, key="artifacts"):
        run = artifact.get("workflow_run") or {}
        ours = run_id is not None or (run.get("head_branch") == branch and run.get("head_repository_id") is not None
                                      and run.get("head_repository_id") == run.get("repository_id"))
        if artifact.get("name") == name and not artifact.get("expired") and ours:
            found.append(artifact)
    if not found:
        where = f"workflow run {run_id}" if run_id else f"branch {branch} of {repository}"
        raise Failure(f"no artifact {name!r} from {where} (expired, or the job that makes it has not run)")
    return max(found, key=lambda a: str(a.get("created_at") or ""))


def newest_gitlab_job(api: Api, project: str, job: str, ref: str) -> dict[str, Any]:
    """The newest successful job ``job`` on ``ref`` that kept artifacts (not just the last pipeline's)."""
    path = f"/projects/{urllib.parse.quote(project, safe='')}/jobs"
    for item in api.items(path, {"scope[]": "success", "per_page": 100}):
        if item.get("name") == job and item.get("ref") == ref and item.get("artifacts_file"):
            return item
    raise Failure(f"no successful job {job!r} with artifacts on {ref} of project {project}")


# -- commands ----------------------------------------------------------------------------------

def _env(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise Failure(f"the environment variable {name} is not set")
    return value


def _github_api(environ: Mapping[str, str], token_env: str, *, required: bool = True) -> Api:
    token = environ.get(token_env, "")
    if required and not token:
        raise Failure(f"the environment variable {token_env} is not set (the token that may comment)")
    return Api(environ.get("GITHUB_API_URL") or "https://api.github.com",
               ("Authorization", f"Bearer {token}") if token else None)


def _gitlab_api(environ: Mapping[str, str], token_env: str, *, required: bool = True) -> Api:
    token = environ.get(token_env, "")
    if required and not token:
        raise Failure(f"the environment variable {token_env} is not set (a token with the api scope)")
    return Api(_env(environ, "CI_API_V4_URL"), ("PRIVATE-TOKEN", token) if token else None)


def run_comment(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    try:
        plan = Path(args.body_file).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        plan = ""
        print(f"authctl_ci: {args.body_file}: {exc.strerror or exc}; the comment says so", file=sys.stderr)
    thread: GitHubThread | GitLabThread
    if args.forge == "github":
        token_env = args.token_env or "GITHUB_TOKEN"
        thread = GitHubThread(_github_api(environ, token_env), _env(environ, "GITHUB_REPOSITORY"), args.number,
                              args.author or GITHUB_ACTIONS_BOT)
        run_url = args.run_url or (f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/"
                                   f"{environ.get('GITHUB_REPOSITORY')}/actions/runs/{environ.get('GITHUB_RUN_ID')}"
                                   if environ.get("GITHUB_RUN_ID") else None)
        if args.expect_head_sha:
            head = thread.head_sha()
            if head != args.expect_head_sha:
                return (f"not posted: pull request {args.number} is at {head[:12] or '(unknown)'}, the plan was "
                        f"made for {args.expect_head_sha[:12]} (a newer push; its own run comments)")
    else:
        project = args.project or environ.get("CI_MERGE_REQUEST_PROJECT_ID") or _env(environ, "CI_PROJECT_ID")
        thread = GitLabThread(_gitlab_api(environ, args.token_env or GITLAB_TOKEN_ENV), project, args.number)
        run_url = args.run_url or environ.get("CI_JOB_URL")
    body = compose(args.marker, plan, args.exit_code, limit=thread.limit, note=args.note, commit=args.commit,
                   run_url=run_url, artifact=args.artifact)
    return f"{post(thread, args.marker, body)} on {'pull' if args.forge == 'github' else 'merge'} request {args.number}"


def run_fetch(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    into = Path(args.into)
    if args.forge == "github":
        api = _github_api(environ, args.token_env or "GITHUB_TOKEN", required=False)
        repository = _env(environ, "GITHUB_REPOSITORY")
        if not args.run_id and not args.branch:
            raise Failure("fetch-artifact github needs --run-id or --branch")
        artifact = newest_github_artifact(api, repository, args.name, run_id=args.run_id, branch=args.branch)
        data = api.call("GET", str(artifact["archive_download_url"]), limit=MAX_ARTIFACT_BYTES).body
        made = f"artifact {args.name!r} of run {(artifact.get('workflow_run') or {}).get('id')}, " \
               f"made {artifact.get('created_at')}"
    else:
        api = _gitlab_api(environ, args.token_env or GITLAB_TOKEN_ENV, required=False)
        project = args.project or _env(environ, "CI_PROJECT_ID")
        if not args.job or not args.ref:
            raise Failure("fetch-artifact gitlab needs --job and --ref")
        job = newest_gitlab_job(api, project, args.job, args.ref)
        data = api.call("GET", f"/projects/{urllib.parse.quote(project, safe='')}/jobs/{int(job['id'])}/artifacts",
                        limit=MAX_ARTIFACT_BYTES).body
        made = f"artifacts of job {job['id']} ({args.job} on {args.ref}, finished {job.get('finished_at')})"
    written = unpack(data, into, args.expect)
    return f"unpacked {', '.join(written)} into {into}: {made}"


def verdict(exit_code: int, environ: Mapping[str, str]) -> int:
    """0 for no changes (0) or changes (2), 3 for BLOCKED, 1 for anything else; says why on stdout."""
    if exit_code in (0, 2):
        print(f"authctl plan: {'no changes' if exit_code == 0 else 'changes to review'} (exit {exit_code})")
        return 0
    if exit_code == 3:
        _annotate(environ, "authctl plan: BLOCKED", "Some deletes would remove what an active job or imported "
                  "experience still uses; the plan names them. Stop those first, then run the check again.")
        return 3
    _annotate(environ, "authctl plan failed", f"exit {exit_code}: the plan's output (and the comment) say why.")
    return 1


def _annotate(environ: Mapping[str, str], title: str, message: str) -> None:
    if environ.get("GITHUB_ACTIONS") == "true":  # a workflow command: shown on the run's summary page
        def escape(value: str, extra: str = "") -> str:
            value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            return value.replace(":", "%3A").replace(",", "%2C") if extra else value
        print(f"::error title={escape(title, 'property')}::{escape(message)}")
    else:
        print(f"{title}: {message}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="authctl_ci.py", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    comment = commands.add_parser("comment", help="post or edit the request's one authctl plan comment")
    comment.add_argument("forge", choices=("github", "gitlab"))
    comment.add_argument("--number", type=int, required=True, help="pull request number / merge request IID")
    comment.add_argument("--marker", required=True, help="the comment's key, e.g. authctl-plan:prod")
    comment.add_argument("--body-file", required=True, help="the markdown `authctl plan --format markdown` wrote")
    comment.add_argument("--exit-code", type=int, required=True, help="authctl plan's exit code")
    comment.add_argument("--commit", help="the commit planned (shown in the footer)")
    comment.add_argument("--artifact", help="the artifact holding the whole plan (named in the footer)")
    comment.add_argument("--run-url", help="link to the CI run (default: this run)")
    comment.add_argument("--note", help="a line under the headline")
    comment.add_argument("--expect-head-sha", help="post only if the pull request's head is this commit (GitHub)")
    comment.add_argument("--project", help="GitLab project id (default: CI_MERGE_REQUEST_PROJECT_ID)")
    comment.add_argument("--author", help=f"GitHub login that posts (default: {GITHUB_ACTIONS_BOT})")
    comment.add_argument("--token-env", help=f"variable holding the token (GITHUB_TOKEN / {GITLAB_TOKEN_ENV})")

    fetch = commands.add_parser("fetch-artifact", help="download and unpack the newest artifact of a name")
    fetch.add_argument("forge", choices=("github", "gitlab"))
    fetch.add_argument("--into", required=True, help="a new or empty folder to unpack into")
    fetch.add_argument("--expect", action="append", default=[], metavar="FILE", help="a file it must hold")
    fetch.add_argument("--name", help="GitHub: the artifact's name")
    fetch.add_argument("--run-id", type=int, help="GitHub: the workflow run that made it")
    fetch.add_argument("--branch", help="GitHub: else the newest made on this branch of this repository")
    fetch.add_argument("--project", help="GitLab: project id (default: CI_PROJECT_ID)")
    fetch.add_argument("--job", help="GitLab: the job that made it")
    fetch.add_argument("--ref", help="GitLab: the branch it ran on")
    fetch.add_argument("--token-env", help="variable holding a token (optional for public projects)")

    judge = commands.add_parser("verdict", help="the check's exit code for authctl plan's")
    judge.add_argument("exit_code", type=int)
    return top


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    if args.command == "verdict":
        return verdict(args.exit_code, environ)
    try:
        if args.command == "fetch-artifact" and args.forge == "github" and not args.name:
            raise Failure("fetch-artifact github needs --name")
        print(f"authctl_ci: {(run_comment if args.command == 'comment' else run_fetch)(args, environ)}")
    except Failure as exc:
        print(f"authctl_ci: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
