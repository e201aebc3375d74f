"""The versions under test as files: released wheels from a find-links directory or a PEP 503
index and the candidate built from a source tree (``index``), the lock that pins them
(``lock``), one venv per (product, version, wheel sha256) (``envs``), `compat release`
(``release``), the static protobuf schema diff of two wheels (``schema_diff``), and the
`compat lock` / `compat release` commands (``cli``)."""
