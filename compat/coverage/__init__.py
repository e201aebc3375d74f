"""``compat coverage``: protocol mutants of a product and the suite strength score (docs/coverage.md)."""
