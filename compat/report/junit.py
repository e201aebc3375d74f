"""JUnit XML properties of one (cell, scenario); the plugin attaches them with record_property."""

from __future__ import annotations

from compat.results.model import CellResult, ScenarioResult


def expectation_text(scenario: ScenarioResult) -> str:
    """``incompatible: reason (TICKET)``, or ``compatible`` when matrix.yaml declares nothing."""
    expectation = scenario.expectation
    if not expectation:
        return "compatible"
    text = str(expectation.get("kind") or "declared")
    if expectation.get("reason"):
        text += f": {expectation['reason']}"
    if expectation.get("ticket"):
        text += f" ({expectation['ticket']})"
    return text


def junit_properties(cell_result: CellResult, scenario_result: ScenarioResult) -> list[tuple[str, str]]:
    return [
        ("client_version", cell_result.client_version),
        ("gateway_version", cell_result.gateway_version),
        ("venue", cell_result.venue),
        ("verdict", str(scenario_result.verdict)),
        ("expectation", expectation_text(scenario_result)),
    ]
