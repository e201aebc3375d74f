"""Version policies over what an index offers: list, specifier, latest minors, yanked, pre-releases."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from compat.config.versions import Available, VersionPolicy, same_version, select

YANKED = {"2.2.0", "1.1.1"}
OFFERED = ["1.0.0", "1.1.0", "1.1.1", "2.0.0", "2.0.1", "2.1.0", "2.1.3", "2.2.0", "3.0.0rc1", "3.0.0.dev2"]
AVAILABLE = [Available(Version(v), v in YANKED, f"refgw-{v}-py3-none-any.whl") for v in OFFERED]


def versions(policy: VersionPolicy) -> list[str]:
    return [str(v) for v in select(AVAILABLE, policy)]


def test_all_skips_yanked_and_prereleases() -> None:
    assert versions(VersionPolicy("all")) == ["1.0.0", "1.1.0", "2.0.0", "2.0.1", "2.1.0", "2.1.3"]


def test_all_with_include_yanked() -> None:
    assert versions(VersionPolicy("all", include_yanked=True)) == [
        "1.0.0",
        "1.1.0",
        "1.1.1",
        "2.0.0",
        "2.0.1",
        "2.1.0",
        "2.1.3",
        "2.2.0",
    ]


def test_list_takes_exactly_what_is_named_even_yanked_or_prerelease() -> None:
    policy = VersionPolicy("list", versions=("2.2.0", "1.0.0", "3.0.0rc1", "1.0"))
    assert versions(policy) == ["1.0.0", "2.2.0", "3.0.0rc1"]


def test_list_returns_missing_versions_for_the_caller_to_report() -> None:
    assert versions(VersionPolicy("list", versions=("9.9.9",))) == ["9.9.9"]


def test_specifier() -> None:
    assert versions(VersionPolicy("specifier", specifier=SpecifierSet(">=1.1,<2.1"))) == [
        "1.1.0",
        "2.0.0",
        "2.0.1",
    ]


def test_specifier_never_falls_back_to_prereleases() -> None:
    # packaging's filter() would return pre-releases when nothing final matches; select() must not.
    assert versions(VersionPolicy("specifier", specifier=SpecifierSet(">=3"))) == []


def test_specifier_that_names_a_prerelease_includes_it() -> None:
    assert versions(VersionPolicy("specifier", specifier=SpecifierSet(">=3.0.0rc1"))) == ["3.0.0rc1"]


def test_specifier_skips_yanked_unless_included() -> None:
    spec = SpecifierSet("==2.2.*")
    assert versions(VersionPolicy("specifier", specifier=spec)) == []
    assert versions(VersionPolicy("specifier", specifier=spec, include_yanked=True)) == ["2.2.0"]


def test_latest_minors_picks_latest_patch_of_last_n_lines() -> None:
    # 2.2 is yanked entirely, so the last lines are 2.1, 2.0, 1.1 (whose 1.1.1 is yanked → 1.1.0).
    assert versions(VersionPolicy("latest_minors", last_n_minors=2)) == ["2.0.1", "2.1.3"]
    assert versions(VersionPolicy("latest_minors", last_n_minors=3)) == ["1.1.0", "2.0.1", "2.1.3"]
    assert versions(VersionPolicy("latest_minors", last_n_minors=10)) == ["1.0.0", "1.1.0", "2.0.1", "2.1.3"]


def test_latest_minors_with_yanked_included() -> None:
    policy = VersionPolicy("latest_minors", last_n_minors=2, include_yanked=True)
    assert versions(policy) == ["2.1.3", "2.2.0"]


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown version policy kind 'newest'"):
        select(AVAILABLE, VersionPolicy("newest"))


def test_describe() -> None:
    assert (
        VersionPolicy("latest_minors", last_n_minors=3).describe() == "latest patch of the last 3 minor lines"
    )
    assert VersionPolicy("list", versions=("1.0.0",)).describe() == "list [1.0.0]"


def test_same_version_normalises_and_falls_back_to_text() -> None:
    assert same_version("2.0", "2.0.0")
    assert not same_version("2.0", "2.0.1")
    assert same_version("candidate", "candidate")  # not PEP 440: compared as text
    assert not same_version("candidate", "2.0.0")
