"""Policy: the workspace's own rules for its manifests (``policy.rules`` in authctl.yaml).

A platform team writes down what review keeps catching: no Facebook user OAuth in prod
(use the system user), every authorization has an owner and a description, tokens are
rotated within 90 days, only some providers in prod, labels follow a naming pattern.
``authctl validate`` and ``authctl plan`` check them; each rule is an ``error`` (validate,
plan and apply refuse, nothing is planned or changed) or a ``warning`` (shown with the
plan's other warnings).

The package is split by layer, so that reading authctl.yaml does not pull in the manifest
model and the checks stay pure:

- :mod:`reconciler.policy.rules`: the rules' schema (pydantic), read with the settings;
- :mod:`reconciler.policy.checks`: pure functions, (rules, manifests[, live tokens]) ->
  violations, and the rules' references checked against the catalog and environments;
- :mod:`reconciler.policy.enforce`: the glue the commands call: it reports violations as
  diagnostics with file, line and field, raises on errors and adds warnings to a plan.

This module imports nothing, so ``reconciler.workspace`` can import the schema alone.
"""
