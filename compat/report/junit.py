"""JUnit XML properties of one (cell, scenario); the plugin attaches them with record_property."""

from __future__ import annotations

from compat.results.grid import expectation_text
from compat.results.model import CellResult, ScenarioResult


def junit_properties(cell_result: CellResult, scenario_result: ScenarioResult) -> list[tuple[str, str]]:
    return [
        ("client_version", cell_result.client_version),
        ("gateway_version", cell_result.gateway_version),
        ("venue", cell_result.venue),
        ("verdict", str(scenario_result.verdict)),
        ("expectation", expectation_text(scenario_result)),
    ]
