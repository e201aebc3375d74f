from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from compat.report.demo import demo_results
from compat.report.html import latency_summary, render_html
from compat.report.writer import write_reports
from compat.results.jsonfile import load_json
from compat.results.model import RunResults


class _Dom(HTMLParser):
    """Collects the elements tests look for (start tags with attributes, text per template)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.templates: dict[str, str] = {}
        self._template: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "template":
            self._template = attributes["id"]
            self.templates[self._template] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._template = None

    def handle_data(self, data: str) -> None:
        if self._template is not None:
            self.templates[self._template] += data

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def _dom(text: str) -> _Dom:
    dom = _Dom()
    dom.feed(text)
    return dom


def test_html_grid_cells_carry_stable_ids_and_verdicts(results: RunResults) -> None:
    dom = _dom(render_html(results))
    assert [t["data-venue"] for t in dom.find("table", "grid")] == ["obx", "tlx"]
    cells = {(c["data-venue"], c["data-client"], c["data-gateway"]): c for c in dom.find("td", "cell")}
    assert len(cells) == 6
    failing = cells[("obx", "1.0.0", "2.2.0")]
    assert failing["data-verdict"] == "fail" and failing["data-cell-id"] == "client-1.0.0--gateway-2.2.0"
    assert "g-break" in failing["class"] and failing["data-grade"] == "break"
    assert cells[("obx", "2.0.0", "2.2.0")]["data-verdict"] == "error"
    assert len(dom.find("td", "empty")) == 1  # client 2.0.0 never ran against gateway 10.0.0
    assert dom.find("aside")[0]["id"] == "detail"


def test_html_drill_down_has_message_logs_and_wire_diff(results: RunResults) -> None:
    dom = _dom(render_html(results))
    detail = dom.templates["tpl-obx/1.0.0/2.2.0"]
    assert "AssertionError: fill price 200.50 != 100.25" in detail
    assert "price_ticks decoded as sint64" in detail and "client tail" in detail
    assert (
        "gateway 2.2.0 answered NewOrder with ExecutionReport(price_ticks=20050) "
        "where gateway 2.1.0 sent ExecutionReport(price_ticks=10025)"
    ) in detail
    assert "matrix.yaml: incompatible: min protocol 3 (GW-10)" in dom.templates["tpl-obx/1.0.0/10.0.0"]
    assert "p99_us" in dom.templates["tpl-obx/1.0.0/2.1.0"]


def test_html_is_self_contained_and_escapes_everything(results: RunResults) -> None:
    cell = results.cells[1]
    hostile = replace(cell, scenarios=(replace(cell.scenarios[1], message="<script>alert(1)</script> & co"),))
    text = render_html(replace(results, cells=(hostile,)))
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    dom = _dom(text)
    assert all("src" not in attrs for _, attrs in dom.tags)  # inline script only
    assert len(dom.find("script")) == 1 and len(dom.find("style")) == 1


def test_html_at_ten_by_ten_by_two_venues_stays_small_and_complete() -> None:
    results = demo_results(10, 10, ("obx", "tlx"))
    text = render_html(results)
    dom = _dom(text)
    assert len(dom.find("td", "cell")) == 200
    assert len(dom.templates) == 200
    assert len(text) < 1_500_000, f"HTML report is {len(text)} bytes for 200 cells"
    keys = [c["data-key"] for c in dom.find("td", "cell")]
    assert len(set(keys)) == 200 and all(f"tpl-{k}" in dom.templates for k in keys)


def test_latency_summary_prefers_p99_and_units() -> None:
    assert latency_summary({"p50_us": 41.5, "p99_us": 120.0}) == "p99 120 µs"
    assert latency_summary({"latency": {"p50_ns": 900}}) == "p50 900 ns"
    assert latency_summary({"rate": 5}) == ""
    assert latency_summary(None) == ""


def test_write_reports_writes_each_requested_file(
    results: RunResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    written = write_reports(
        results, json_path=tmp_path / "a" / "r.json", md_path=tmp_path / "r.md", html_path=tmp_path / "r.html"
    )
    assert written == [tmp_path / "a" / "r.json", tmp_path / "r.md", tmp_path / "r.html", summary]
    assert load_json(tmp_path / "a" / "r.json") == results
    assert summary.read_text() == (tmp_path / "r.md").read_text()
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a",
        "r.html",
        "r.md",
        "step.md",
    ]  # no temp files left
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert write_reports(results, json_path=tmp_path / "only.json") == [tmp_path / "only.json"]
    assert json.loads((tmp_path / "only.json").read_text())["schema_version"] == 2
