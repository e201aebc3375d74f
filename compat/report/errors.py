"""Errors of the report layer, rooted in ``compat.errors.CompatError``.

CompatError
└── ReportError            a results file or a set of shards cannot be used
    ├── SchemaVersionError a results JSON has a schema_version this compat cannot read
    ├── MergeConflict      two shards disagree about the same (cell, scenario)
    └── SchemaDiffError    a wheel or descriptor set carries no readable protobuf schema
"""

from __future__ import annotations

from compat.errors import CompatError


class ReportError(CompatError):
    """A results file, history store or shard set cannot be used as asked."""


class SchemaVersionError(ReportError):
    """The results JSON was written with a schema version this compat does not read."""


class MergeConflict(ReportError):
    """Two shards hold different results for the same (venue, cell, scenario)."""


class SchemaDiffError(ReportError):
    """No protobuf descriptors could be read from a wheel or descriptor file."""
