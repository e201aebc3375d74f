"""The public surface (``from compat import ...``) and the old import paths of 0.1."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

import compat
from compat import _moved


@pytest.mark.parametrize("name", compat.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(compat, name) is not None
    assert name in dir(compat)


def test_unsupported_is_the_n_a_error() -> None:
    from compat.errors import CompatError, OperationUnsupported

    assert compat.Unsupported is OperationUnsupported
    assert issubclass(compat.Unsupported, CompatError)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = compat.nope


def test_importing_compat_loads_nothing_heavy() -> None:
    """pytest imports the package for the plugin in every run, so it must stay light."""
    code = ("import sys, compat; heavy = [m for m in ('compat.run.stack', 'compat.results.model', "
            "'psutil', 'google.protobuf', 'yaml') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("old", "new"), sorted(_moved.MOVED.items()))
def test_old_path_warns_and_is_the_new_module(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    if old in _moved.SPLIT:  # a stand-in that finds each name where it went
        assert module.__name__ == old
    else:
        assert module is importlib.import_module(new)
    sys.modules.pop(old, None)


def test_split_modules_find_every_name_where_it_went() -> None:
    from compat.artifacts.candidate import build_candidate
    from compat.artifacts.index import list_wheels
    from compat.artifacts.resolve import resolve
    from compat.results.shards import merge_shards
    from compat.run.shard import select_shard

    sys.modules.pop("compat.index", None)
    sys.modules.pop("compat.report.shard", None)
    with pytest.warns(DeprecationWarning):
        old_index = importlib.import_module("compat.index")
        old_shard = importlib.import_module("compat.report.shard")
    assert (old_index.list_wheels, old_index.resolve, old_index.build_candidate) == (
        list_wheels, resolve, build_candidate)
    assert (old_shard.merge_shards, old_shard.select_shard) == (merge_shards, select_shard)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = old_index.nothing_here


def test_old_results_module_names_forward_with_a_warning() -> None:
    from compat.results.collect import ResultsCollector

    with pytest.warns(DeprecationWarning, match="compat.results.collect.ResultsCollector"):
        from compat.results import ResultsCollector as old
    assert old is ResultsCollector


def test_new_paths_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("compat.config.matrix")
        importlib.import_module("compat.run.scenario")
