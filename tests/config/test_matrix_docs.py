"""The full example in docs/matrix-yaml.md loads, and means what the document says."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.specifiers import SpecifierSet

from compat.config.matrix import load_matrix

DOC = Path(__file__).resolve().parents[2] / "docs" / "matrix-yaml.md"


def test_full_example_loads(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"## A full example\n\n```yaml\n(.*?)```", text, re.S)
    assert example is not None, "docs/matrix-yaml.md lost its full example"
    adapter = tmp_path / "clients" / "refclient" / "compat_adapter.py"
    adapter.parent.mkdir(parents=True)
    adapter.write_text("class Adapter: ...\n")
    (tmp_path / "matrix.yaml").write_text(example.group(1))
    m = load_matrix(tmp_path / "matrix.yaml")
    assert m.products["gateway"].launch_for("1.1.0").argv[-1] == "{auth}"
    assert m.products["gateway"].launch_for("3.0.0").argv[-1] == "{journal}"
    assert m.policies["gateway"].last_n_minors == 4 and m.policies["client"].kind == "list"
    assert [e.kind for e in m.expectations] == ["incompatible", "incompatible", "unsupported", "incompatible"]
    assert str(m.expectations[3].swap_from) == "==3.0.*" and str(m.expectations[3].swap_to) == "<3.0"
    assert [rule.kind for rule in m.swaps] == ["adjacent_minors", "candidate"] and m.swaps[1].minors == 1
    assert m.removals[0].covers("client", "4.0.0", "order.amend")
    assert m.expectations[1].client == SpecifierSet("==2.1.0") and m.expectations[1].ticket == "CL-214"
    assert m.venues == ("obx", "tlx") and m.settings["start_timeout_s"] == 20
    (issue,) = m.known_issues
    assert (issue.role, issue.finding) == ("client", "memory-growth") and issue.covers("client", "3.0.0", issue.finding)
