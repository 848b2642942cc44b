"""The login's redirect listener (reconciler/oauth/loopback.py), over real sockets on 127.0.0.1.

It binds 127.0.0.1 only on an ephemeral port; it accepts exactly one GET of /callback
carrying the login's state, answers anything else 400/404 and keeps waiting; the page it
shows never contains the code; it logs nothing; it closes after the one callback or its
deadline (a timeout is an OAuthError that counts what it refused).
"""

from __future__ import annotations

import socket
import threading
import time

import httpx2
import pytest

from reconciler.errors import OAuthError
from reconciler.oauth.loopback import LoopbackListener, free_loopback_port, query_params, state_matches

STATE = "the-state-of-this-login-1234567890"


def waiting(listener: LoopbackListener, timeout: float = 10.0) -> tuple[threading.Thread, dict[str, object]]:
    """``listener.wait`` on a thread; the result (or error) lands in the returned dict."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["callback"] = listener.wait(timeout)
        except OAuthError as exc:
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def get(url: str, **kwargs: object) -> httpx2.Response:
    return httpx2.get(url, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_it_binds_127_0_0_1_only_on_an_ephemeral_port() -> None:
    with LoopbackListener(STATE) as listener:
        host, port = listener._server.socket.getsockname()
        assert host == "127.0.0.1" and port == listener.port and port > 0
        assert listener.redirect_uri == f"http://127.0.0.1:{port}/callback"
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        LoopbackListener(STATE, host="0.0.0.0")
    first, second = LoopbackListener(STATE), LoopbackListener(STATE)
    try:
        assert first.port != second.port  # each login its own ephemeral port, never shared
    finally:
        first.close()
        second.close()


def test_it_accepts_exactly_one_matching_callback_and_ignores_the_rest() -> None:
    listener = LoopbackListener(STATE)
    base = f"http://127.0.0.1:{listener.port}"
    thread, box = waiting(listener)
    assert get(f"{base}/other?state={STATE}&code=c1").status_code == 404
    assert get(f"{base}/callback?state=wrong&code=c2").status_code == 400
    assert get(f"{base}/callback?code=c3").status_code == 400
    assert get(f"{base}/callback?state={STATE}&code=c4", headers={"Host": f"evil.example:{listener.port}"}
               ).status_code == 400  # DNS rebinding
    assert "callback" not in box and thread.is_alive()  # none of those completed the flow
    good = get(f"{base}/callback?state={STATE}&code=the-one-time-code")
    assert good.status_code == 200 and "close this tab" in good.text
    assert "the-one-time-code" not in good.text and good.headers["Cache-Control"] == "no-store"
    thread.join(10)
    callback = box["callback"]
    assert callback.params == {"state": STATE, "code": "the-one-time-code"}  # type: ignore[attr-defined]
    assert "the-one-time-code" not in repr(callback)
    assert listener.refused == 4
    with pytest.raises(httpx2.ConnectError):  # closed after the one callback: a second is never accepted
        get(f"{base}/callback?state={STATE}&code=second")


def test_a_provider_error_with_the_right_state_is_the_callback() -> None:
    listener = LoopbackListener(STATE)
    thread, box = waiting(listener)
    page = get(f"http://127.0.0.1:{listener.port}/callback?error=access_denied&state={STATE}")
    assert page.status_code == 200 and "did not grant the authorization" in page.text
    thread.join(10)
    assert box["callback"].params["error"] == "access_denied"  # type: ignore[attr-defined]


def test_other_methods_do_not_complete_it() -> None:
    listener = LoopbackListener(STATE)
    thread, box = waiting(listener, timeout=1.5)
    answer = httpx2.post(f"http://127.0.0.1:{listener.port}/callback?state={STATE}&code=c", timeout=5)
    assert answer.status_code in (405, 501)
    thread.join(10)
    assert "callback" not in box and isinstance(box["error"], OAuthError)


def test_a_timeout_is_an_oauth_error_that_counts_the_refused_requests(capfd: pytest.CaptureFixture[str]) -> None:
    listener = LoopbackListener(STATE)
    thread, box = waiting(listener, timeout=1.0)
    get(f"http://127.0.0.1:{listener.port}/callback?state=forged&code=secret-code-123")
    thread.join(10)
    error = box["error"]
    assert isinstance(error, OAuthError)
    assert error.message == ("no authorization arrived within 1 s (1 request(s) to the listener were refused: "
                             "not this login's callback); nothing was stored")
    assert "--timeout" in error.hint
    captured = capfd.readouterr()
    assert "secret-code-123" not in captured.out + captured.err and captured.err == ""  # nothing logged


def test_a_silent_connection_holds_up_neither_the_callback_nor_the_deadline() -> None:
    """Browsers open spare connections that send nothing: the real callback still gets through at once."""
    listener = LoopbackListener(STATE)
    thread, box = waiting(listener)
    with socket.create_connection(("127.0.0.1", listener.port)):
        assert get(f"http://127.0.0.1:{listener.port}/callback?state={STATE}&code=c").status_code == 200
        thread.join(10)
        assert "callback" in box  # answered while the silent connection is still open
    quiet = LoopbackListener(STATE)
    with socket.create_connection(("127.0.0.1", quiet.port)):
        started = time.monotonic()
        with pytest.raises(OAuthError, match="within 1 s"):
            quiet.wait(1.0)
        assert time.monotonic() - started < 30  # a listener stuck on the silent connection never returns


def test_state_comparison_and_query_parsing() -> None:
    assert state_matches(STATE, STATE) and not state_matches(STATE, STATE + "x")
    assert not state_matches(STATE, None) and not state_matches(STATE, "")
    assert not state_matches(STATE, "\udcff")  # a lone surrogate from a hostile query is just a mismatch
    assert query_params("a=1&a=2&b=&c") == {"a": "1", "b": "", "c": ""}
    port = free_loopback_port()
    assert 0 < port < 65536
