"""What a run's matrix.yaml declares that its reports need, stamped into ``RunResults.meta`` by
the plugin so that the reports stay pure functions of the results (and a JSON report rendered
later by ``compat report`` says the same):

- ``meta.support_window``: ``settings.support_window`` (``compat.results.gate``), so the
  reports lead with the decision ``compat gate`` would take;
- ``meta.known_issues``: the ``known_issues:`` declarations (``compat.config.known_issues``),
  so a declared finding of a released version is shown once with its declaration, not warned about.

Both are left out when the matrix declares none. Every shard of a run stamps the same values,
so shards still merge.
"""

from __future__ import annotations

import dataclasses

from compat.config.known_issues import META_KEY as KNOWN_ISSUES_KEY
from compat.config.matrix import Matrix
from compat.errors import ConfigError
from compat.results.gate import WINDOW_META_KEY, SupportWindow
from compat.results.model import RunResults


def with_declarations(results: RunResults, matrix: Matrix) -> RunResults:
    meta = dict(results.meta)
    try:
        window = SupportWindow.from_settings(matrix.settings, matrix.path.name)
    except ConfigError as exc:  # `compat gate` says the same; the reports then gate every pair
        meta[WINDOW_META_KEY] = {"error": str(exc)}
    else:
        if window is not None:
            meta[WINDOW_META_KEY] = window.to_dict()
    if matrix.known_issues:
        meta[KNOWN_ISSUES_KEY] = [issue.to_dict() for issue in matrix.known_issues]
    return dataclasses.replace(results, meta=meta)
