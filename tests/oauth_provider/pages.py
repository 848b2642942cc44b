"""The two HTML pages a browser sees: the consent form and the authorization error page.

Everything interpolated is escaped: scope names, client ids and error texts come from the
request, and a test server must not be a reflected-XSS example. The consent form carries the
authorization request back as hidden fields, so the POST is validated exactly like the GET.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from flask import Response

_STYLE = "body{font-family:sans-serif;max-width:36em;margin:2em auto}code{background:#eee}"


def _page(title: str, body: str, status: int) -> Response:
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"  # consent pages must not be framed (clickjacking)
    return response


def consent_page(client_id: str, scopes: list[str], fields: Iterable[tuple[str, str]]) -> Response:
    """The consent form: scopes listed, the request as hidden fields, approve/deny buttons."""
    items = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes) or "<li>(no scopes)</li>"
    hidden = "".join(f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields)
    body = (f"<h1>Authorize {escape(client_id)}</h1><p>The application asks for:</p><ul>{items}</ul>"
            f"<form method='post' action='/oauth/authorize'>{hidden}"
            f"<label>Scopes to grant <input type='text' name='grant_scope' value='{escape(' '.join(scopes))}'>"
            f"</label><p><button type='submit' name='confirm' value='yes'>Allow</button> "
            f"<button type='submit' name='confirm' value='no'>Deny</button></p></form>")
    return _page("Authorize", body, 200)


def error_page(error: str, description: str, status: int = 400) -> Response:
    """Shown instead of redirecting when the redirect URI (or the client) cannot be trusted."""
    body = f"<h1>Authorization error</h1><p><code>{escape(error)}</code></p><p>{escape(description)}</p>"
    return _page("Authorization error", body, status)
