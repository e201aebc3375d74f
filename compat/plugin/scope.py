"""Where a matrix run looks for tests: only the scenario folders, when the run can only run scenarios.

``pytest -m compat`` at a project's root collects the whole test tree before ``-m`` deselects
everything but the scenarios: every test module is imported (and its asserts rewritten) only to
be dropped. With ``compat_scenario_paths`` in the pytest ini (the folders that hold the
scenarios), a run whose ``-m`` keeps no test without the ``compat`` mark collects only those
folders. Any other run (no ``-m``, ``-m "compat or bench"``, ``-m "not compat"``) collects as
pytest always does, and a path named on the command line is always collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from _pytest.mark.expression import Expression

INI = "compat_scenario_paths"
_MAX_NAMES = 10  # an -m expression naming more marks than this is not narrowed (2^n evaluations)


def keeps_only(expression: Expression, mark: str) -> bool:
    """Whether ``-m`` drops every test that lacks ``mark``, whatever other marks it carries.

    Evaluated over every assignment of the other mark names the expression asks about (found by
    asking: pytest's Expression does not list its names); a mark with arguments (``-m
    "slow(x=1)"``) counts as a name of its own."""
    names: list[tuple[str, frozenset[tuple[str, object]]]] = []

    def holds(assignment: dict[tuple[str, frozenset[tuple[str, object]]], bool]) -> bool:
        def matcher(name: str, /, **kwargs: object) -> bool:
            if name == mark:
                return False
            key = (name, frozenset(kwargs.items()))
            if key not in names:
                names.append(key)
            return assignment.get(key, False)

        return expression.evaluate(matcher)

    known = -1
    while known != len(names):  # new names appear as assignments make other branches run
        known = len(names)
        if known > _MAX_NAMES:
            return False
        for bits in range(2**known):
            if holds({name: bool(bits >> index & 1) for index, name in enumerate(names[:known])}):
                return False
    return True


def scope_filter(scenario_paths: Iterable[Path], named: Iterable[Path]) -> Callable[[Path], bool | None]:
    """``pytest_ignore_collect``'s answer for a narrowed run: ignore a path outside every scenario
    folder unless it leads to one or was named on the command line (None: pytest decides)."""
    folders = tuple(path.resolve() for path in scenario_paths)
    explicit = frozenset(path.resolve() for path in named)

    def ignore(path: Path) -> bool | None:
        resolved = path.resolve()
        if resolved in explicit:
            return None
        for folder in folders:
            if resolved == folder or resolved.is_relative_to(folder) or folder.is_relative_to(resolved):
                return None
        return True

    return ignore


def named_paths(args: Iterable[str], invocation_dir: Path) -> list[Path]:
    """The paths named among pytest's arguments (``path::node`` ids keep their path)."""
    return [invocation_dir / arg.split("::", 1)[0] for arg in args if arg and not arg.startswith("-")]


__all__ = ["INI", "keeps_only", "named_paths", "scope_filter"]
