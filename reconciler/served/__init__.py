"""The embedded platform served over HTTP in the shape of the Lytics v2 REST API (``authctl platform serve``).

The ``lytics`` backend, its tests and the benchmarks talk to this server on 127.0.0.1:
real HTTP, no mocks, with faults (latency, errors, rate limits, dropped answers) on
demand. One module, one job:

- ``routes``: the route table, the single description of what is served;
- ``auth_handlers``, ``job_handlers``, ``extension_handlers``: what each route does;
- ``context``: what a handler gets and returns; ``inputs``: reading requests;
  ``mapping``: records in Lytics' words; ``paging``: ``?limit`` and ``_next`` cursors;
- ``envelopes``: the success and error envelopes; ``gateway``: serialized platform calls
  and their refusals as Lytics errors; ``faults``: the injected faults;
- ``app``: the ASGI application; ``openapi``: ``/openapi.json`` from the route table;
- ``source``: which platform is served; ``server``: binding and running uvicorn.

The wire shapes are ``reconciler.lytics_wire``'s, shared with the client.
"""

from reconciler.served.app import ServeSettings, create_app
from reconciler.served.faults import FaultSettings

__all__ = ["FaultSettings", "ServeSettings", "create_app"]
