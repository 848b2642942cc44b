"""``authctl ui``: a local, read-only web dashboard of a workspace's platform, its jobs and its plan.

One module, one job:

===============  ==========================================================================
access.py        who may talk to it (Host, read-only, token -> cookie) and the security
                 headers on every answer: pure ASGI middleware
source.py        where the data comes from (backend, state, planner) and how fresh it is
dataset.py       one snapshot as rows, jobs indexed by authorization, sort orders kept
queries.py       a list's URL: sort, order, filters, search, page
charts.py        the activity charts' geometry, from `show --format json`'s ``requests``
fixes.py         what is wrong with an authorization and the command that fixes it
plan_view.py     the plan's JSON arranged for a reviewer: blocked first, with links
pages.py         the HTML pages; api.py the JSON API (the CLI's field names)
app.py           the Starlette application: routes, page frame, errors, the guard
templating.py    the Jinja2 environment (autoescaping, strict, data filters)
server.py        serving it with uvicorn on a bound socket until Ctrl-C
===============  ==========================================================================

Templates (``templates/*.html``) and the stylesheet, script and icon (``static/``) are
package data. Nothing here imports the CLI, and nothing here writes to the platform or
the state store.
"""

from reconciler.ui.access import AccessSettings
from reconciler.ui.app import create_app
from reconciler.ui.source import DashboardSource

__all__ = ["AccessSettings", "DashboardSource", "create_app"]
