"""The pure planner: (desired, snapshot, state, fingerprints) -> Plan. No I/O, no clock.

Following gitops-engine's reconcile: first *pair* each desired object with what state
says it became and what the platform shows now, then decide per pair. Authorizations
are decided first (``authorizations``: jobs need to know whether their authorizations
are being created or replaced), then jobs (``jobs``), then what state manages but the
manifests dropped (``removals``); the delete guard runs last, when the plan knows which
jobs it deletes or rebinds itself. ``warnings`` adds what a reviewer should know.
``session`` (the I/O shell) gathers the inputs and calls :func:`make_plan`.
"""

from reconciler.planner.context import PlanInput
from reconciler.planner.make import make_plan
from reconciler.planner.versions import auth_version, job_version

__all__ = ["PlanInput", "auth_version", "job_version", "make_plan"]
