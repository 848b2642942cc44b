"""One pooled HTTP client for a Lytics-shaped API: send, classify, retry what is safe, count.

:meth:`HttpClient.request` sends one logical call and returns its :class:`Answer`, or
raises one ``BackendError`` whose message is a single line naming the method, the path
(never the query), the HTTP status, Lytics' error code and message, and the request id::

    POST /v2/auth/fb-system-user: 400 AUTH-BADREQ-008 config.ads_account_id: ... (request 3f2a...)

Retries (:class:`RetryPolicy`): exponential backoff with full jitter, honouring
``Retry-After`` (seconds or an HTTP date, capped), bounded by attempts and by the total
time spent waiting.

- Not sent at all (connection refused, DNS, pool timeout) or refused unprocessed (429):
  retried for every call.
- Maybe processed (read timeout, dropped connection, 500/502/503/504): retried only for
  idempotent calls (``retry="idempotent"``: GET, PUT, DELETE, POST pause/resume/kill;
  500 only a couple of times). A create (``retry="create"``) is never repeated here: it
  raises :class:`OutcomeUnknown` and the backend looks the object up by its creation
  marker before deciding to send it again.
- TLS failures (a certificate that does not verify) are not retried: waiting cannot fix them.

The API token lives in a ``Secret`` until :class:`_TokenAuth` puts it in the
``Authorization`` header of a request being sent; it is never logged, never part of a
repr, and scrubbed (with any other value the caller names) from server messages that
end up in an error. Responses are validated with the pydantic wire models
(reconciler/lytics_wire.py) by :meth:`HttpClient.decode`: a wrong shape is one
PermanentBackendError naming the first problems by location, never by value.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar

import httpx2
from pydantic import BaseModel, ValidationError

from reconciler.errors import BackendError, PermanentBackendError, TemporaryBackendError
from reconciler.lytics_wire import ErrorCode, ErrorEnvelope

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
RetryMode = Literal["idempotent", "create"]

REDACTED = "(sensitive)"
MAX_SERVER_MESSAGE = 300  # characters of a server's error message kept in ours
_MAYBE_PROCESSED = frozenset({500, 502, 503, 504})
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-lytics-request-id")


class Secret(Protocol):
    def reveal(self) -> str: ...


class OutcomeUnknown(TemporaryBackendError):
    """A create may or may not have happened: its answer was lost, or a 5xx came back."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded by attempts and by the total wait: never retry forever."""

    attempts: int = 6
    attempts_on_500: int = 3  # a 500 is a bug more often than a blip: try a couple of times only
    wait_initial: float = 0.25
    wait_max: float = 5.0
    retry_after_max: float = 30.0
    budget: float = 60.0  # seconds of waiting, in total, for one call


@dataclass(frozen=True)
class Answer:
    """A successful response (or, with ``gone_ok``, a 404 that proves an earlier attempt did the job)."""

    status: int
    content: bytes
    request_id: str
    attempts: int
    method: str
    path: str


class Calls:
    """Counts the requests one piece of work made (a snapshot's ``calls``); one thread each."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class _TokenAuth(httpx2.Auth):
    """Adds ``Authorization: <token>`` to each request as it is sent; holds only the Secret."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = self._token.reveal()
        yield request

    def __repr__(self) -> str:
        return "_TokenAuth([secure])"


@dataclass
class _Failure:
    error: BackendError
    retry: bool  # a retry may help
    maybe_processed: bool  # the platform may have acted on it
    delay: float | None = None  # the server's Retry-After


class HttpClient:
    """Thread-safe: one ``httpx2.Client`` (pooled) shared by every apply thread; counters under a lock."""

    def __init__(self, base_url: str, token: Secret, *, timeout: float = 30.0, parallelism: int = 16,
                 account_id: str | None = None, transport: httpx2.BaseTransport | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.base_url = normalize_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._token = token
        self._account_id = account_id
        connections = max(16, parallelism)
        self._client = httpx2.Client(
            base_url=self.base_url, auth=_TokenAuth(token), transport=transport, follow_redirects=False,
            timeout=httpx2.Timeout(connect=min(5.0, timeout), read=timeout, write=timeout, pool=timeout),
            limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"Accept": "application/json", "User-Agent": "authctl"})
        self._lock = threading.Lock()
        self.requests_made = 0
        self.requests_by_kind: Counter[str] = Counter()
        self.requests_by_auth: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    # -- one call ----------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, kind: str, params: Mapping[str, str] | None = None,
                body: bytes | None = None, retry: RetryMode = "idempotent", names: Iterable[str] = (),
                redact: Iterable[str] = (), gone_ok: bool = False, calls: Calls | None = None) -> Answer:
        """Send ``method path`` until it succeeds or retrying is useless; see the module docstring.

        ``kind`` is the endpoint's template (``GET /v2/auth/{type}/{id}``) for the counters;
        ``names`` the authorization ids the call names (the activity tally); ``redact`` the
        values (secrets sent in ``body``) to scrub from any server message; ``gone_ok``: a
        404 after an attempt that may have been processed means that attempt did it (a delete).
        """
        query = dict(params or {})
        if self._account_id:
            query["account_id"] = self._account_id
        headers = {"Content-Type": "application/json"} if body is not None else None
        names = tuple(names)
        scrub = tuple(v for v in (*redact, self._token.reveal()) if v)
        policy = self.retry
        waited = 0.0
        maybe_done = False  # an earlier attempt may have been processed
        attempt = 0
        while True:
            attempt += 1
            self._count(kind, names, calls)
            started = time.perf_counter()
            try:
                response = self._client.request(method, path, params=query or None, content=body, headers=headers)
            except httpx2.TransportError as exc:
                failure = self._transport_failure(method, path, exc)
            else:
                log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, path, response.status_code,
                          (time.perf_counter() - started) * 1000, attempt)
                if 200 <= response.status_code < 300:
                    return Answer(response.status_code, response.content, _request_id(response), attempt,
                                  method, path)
                if response.status_code == 404 and gone_ok and maybe_done:
                    return Answer(404, b"", _request_id(response), attempt, method, path)
                failure = self._status_failure(method, path, response, scrub)
            if failure.maybe_processed and retry == "create":
                raise OutcomeUnknown(failure.error.message, status=failure.error.status, code=failure.error.code,
                                     delay=failure.delay)
            limit = policy.attempts_on_500 if failure.error.status == 500 else policy.attempts
            delay = self._delay(attempt, failure.delay)
            if not failure.retry or attempt >= limit or waited + delay > policy.budget:
                raise failure.error
            maybe_done = maybe_done or failure.maybe_processed
            log.debug("%s %s: %s; retrying in %.2f s", method, path, failure.error.message, delay)
            self._sleep(delay)
            waited += delay

    def _count(self, kind: str, names: tuple[str, ...], calls: Calls | None) -> None:
        with self._lock:
            self.requests_made += 1
            self.requests_by_kind[kind] += 1
            for name in names:
                self.requests_by_auth[name] += 1
        if calls is not None:
            calls.n += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        policy = self.retry
        if retry_after is not None:
            return min(max(retry_after, 0.0), policy.retry_after_max)
        return self._jitter() * min(policy.wait_max, policy.wait_initial * 2 ** (attempt - 1))

    # -- classifying failures ----------------------------------------------------------------------
    def _transport_failure(self, method: str, path: str, exc: httpx2.TransportError) -> _Failure:
        where = f"cannot reach the platform at {self.base_url}"
        if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout):
            reason = _connect_reason(exc)
            if reason.startswith("TLS"):
                return _Failure(PermanentBackendError(f"{where}: {reason}", code="TLS"), retry=False,
                                maybe_processed=False)
            return _Failure(TemporaryBackendError(f"{where}: {reason}", code="CONNECT"), retry=True,
                            maybe_processed=False)
        if isinstance(exc, httpx2.TimeoutException):
            message = f"{method} {path}: no answer within the timeout (backend.timeout_seconds)"
            return _Failure(TemporaryBackendError(message, code="TIMEOUT"), retry=True, maybe_processed=True)
        if isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError):
            message = f"{method} {path}: the connection broke before the answer ({_short(exc)})"
            return _Failure(TemporaryBackendError(message, code="DISCONNECTED"), retry=True, maybe_processed=True)
        return _Failure(PermanentBackendError(f"{method} {path}: {type(exc).__name__}: {_short(exc)}",
                                              code="HTTP"), retry=False, maybe_processed=False)

    def _status_failure(self, method: str, path: str, response: httpx2.Response, scrub: tuple[str, ...]) -> _Failure:
        status = response.status_code
        code, text, request_id = _error_details(response)
        text = _scrubbed(text, scrub)
        suffix = f" (request {request_id})" if request_id else ""
        if status == 401:
            error: BackendError = PermanentBackendError(
                f"{method} {path}: the platform refused the API token ({status} {code or ErrorCode.UNAUTHORIZED}); "
                f"check backend.token{suffix}", status=status, code=code or ErrorCode.UNAUTHORIZED)
            return _Failure(error, retry=False, maybe_processed=False)
        if 300 <= status < 400:
            message = f"{method} {path}: {status} (a redirect: check backend.url){suffix}"
            return _Failure(PermanentBackendError(message, status=status), retry=False, maybe_processed=False)
        detail = " ".join(p for p in (str(status), code, text) if p) or str(status)
        message = f"{method} {path}: {detail}{suffix}"
        if status == 429:
            delay = retry_after(response.headers.get("Retry-After"))
            return _Failure(TemporaryBackendError(message, status=status, code=code, delay=delay), retry=True,
                            maybe_processed=False, delay=delay)
        if status in _MAYBE_PROCESSED:
            delay = retry_after(response.headers.get("Retry-After"))
            return _Failure(TemporaryBackendError(message, status=status, code=code, delay=delay), retry=True,
                            maybe_processed=True, delay=delay)
        return _Failure(PermanentBackendError(message, status=status, code=code), retry=False, maybe_processed=False)

    # -- reading answers ---------------------------------------------------------------------------
    def decode(self, answer: Answer, model: type[M]) -> M:
        """The answer's body as ``model``; a PermanentBackendError naming the first problems (never values)."""
        try:
            return model.model_validate_json(answer.content)
        except ValidationError as exc:
            raise PermanentBackendError(shape_message(answer, exc), status=answer.status, code="SHAPE") from None


def shape_message(answer: Answer, exc: ValidationError) -> str:
    """``GET /v2/job: the response is not the expected shape: data.3.status: Field required (request ...)``."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    request_id = answer.request_id or _body_request_id(answer.content)
    suffix = f" (request {request_id})" if request_id else ""
    if any(e["type"] == "json_invalid" for e in errors):
        return f"{answer.method} {answer.path}: the response is not JSON{suffix}"
    problems = [f"{'.'.join(str(p) for p in e['loc']) or '(the body)'}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return (f"{answer.method} {answer.path}: the response is not the expected shape: "
            f"{'; '.join(problems)}{more}{suffix}")


def normalize_base_url(url: str) -> str:
    """``https://api.lytics.io/v2/`` and ``https://api.lytics.io`` are the same API root."""
    url = url.strip().rstrip("/")
    return url[:-3] if url.endswith("/v2") else url


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_details(response: httpx2.Response) -> tuple[str, str, str]:
    """(Lytics code, message, request id) from an error response; empty strings where it says nothing."""
    request_id = _request_id(response)
    try:
        envelope = ErrorEnvelope.model_validate_json(response.content)
    except ValidationError:
        return "", "", request_id or _body_request_id(response.content)
    first = envelope.errors[0]
    return first.code, _one_line(first.message), request_id or envelope.request_id


def _request_id(response: httpx2.Response) -> str:
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return _one_line(value)[:80]
    return ""


def _body_request_id(content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return ""
    value = body.get("request_id") if isinstance(body, dict) else None
    return _one_line(value)[:80] if isinstance(value, str) else ""


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SERVER_MESSAGE else text[:MAX_SERVER_MESSAGE - 3] + "..."


def _scrubbed(text: str, values: tuple[str, ...]) -> str:
    for value in values:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


def _short(exc: Exception) -> str:
    text = _one_line(str(exc))
    return text or type(exc).__name__


def _connect_reason(exc: httpx2.TransportError) -> str:
    """Why a connection could not be made, in words (the errno text varies by OS)."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, httpx2.PoolTimeout):
        return "no free connection within the timeout (too many calls at once)"
    if isinstance(exc, httpx2.ConnectTimeout):
        return "no answer to the connection within the timeout"
    if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        return f"TLS handshake failed ({_one_line(text)[:200]})"
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered \
            or "name resolution" in lowered or "no address associated" in lowered:
        return "the host name does not resolve"
    if "unreachable" in lowered:
        return "the network or host is unreachable"
    return _short(exc)


__all__ = ["Answer", "Calls", "HttpClient", "OutcomeUnknown", "RetryPolicy", "normalize_base_url", "retry_after",
           "shape_message"]
