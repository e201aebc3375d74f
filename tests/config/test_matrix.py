"""matrix.yaml parsing: the values it yields and every error, each with its exact line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from compat.config.matrix import DEFAULT_READY_PATTERN, Matrix, load_matrix
from compat.errors import ConfigError, MatrixError

VALID = """\
schema: 1
products:
  gateway:
    package: refgw
    source: gateways/refgw
    ready: '^GATEWAY READY (?P<addrs>.*)$'
    launch:
      - versions: "<2.0"
        argv: ["{python}", "-m", "refgw", "--exchange", "{exchange_host}:{exchange_port}"]
      - versions: ">=2.0"
        argv: "{bin}/refgw serve --listen {listen_host}:0 --journal {journal} --venue {venue}"
  client:
    package: refclient
    source: clients/refclient
    adapter: adapter.py
index:
  find_links: wheels
versions:
  gateway:
    latest_minors: 3
    include_yanked: false
  client:
    list: ["1.0", "2.1.0"]
    candidate: false
lock:
  path: locks/compat.lock.json
  reuse: false
venues: [obx, tlx]
hosts:
  gateway: "ssh:ops@10.0.0.5:2222"
expectations:
  - client: ">=3.0"
    gateway: "<2.0"
    expect: incompatible
    reason: client needs protocol v2
    ticket: GW-17
    expires: 2027-03-31
  - gateway: "2.2.0"
    venue: "o*"
    scenario: "test_s0*"
    expect: unsupported
    reason: yanked release
settings:
  start_timeout_s: 15
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "adapter.py").write_text("class Adapter: ...\n")
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> Matrix:
    return load_matrix(write(tmp_path, text))


def error(tmp_path: Path, text: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        load(tmp_path, text)
    return info.value


def test_valid_matrix_values(tmp_path: Path) -> None:
    m = load(tmp_path, VALID)
    assert m.root == tmp_path.resolve()
    gw = m.products["gateway"]
    assert gw.package == "refgw" and gw.source == tmp_path.resolve() / "gateways/refgw"
    assert [t.line for t in gw.launch] == [8, 10]
    assert gw.launch[1].argv == (
        "{bin}/refgw",
        "serve",
        "--listen",
        "{listen_host}:0",
        "--journal",
        "{journal}",
        "--venue",
        "{venue}",
    )
    assert gw.ready_pattern == "^GATEWAY READY (?P<addrs>.*)$"
    assert m.products["client"].adapter == tmp_path.resolve() / "adapter.py"
    assert m.products["client"].ready == DEFAULT_READY_PATTERN
    assert m.index.find_links == tmp_path.resolve() / "wheels" and m.index.url is None
    assert m.policies["gateway"].kind == "latest_minors" and m.policies["gateway"].last_n_minors == 3
    assert m.policies["gateway"].candidate is True
    assert m.policies["client"].kind == "list" and m.policies["client"].versions == ("1.0", "2.1.0")
    assert m.policies["client"].candidate is False
    assert m.lock.path == tmp_path.resolve() / "locks/compat.lock.json" and m.lock.reuse is False
    assert m.venues == ("obx", "tlx")
    assert dict(m.hosts) == {"exchange": "local", "gateway": "ssh:ops@10.0.0.5:2222", "client": "local"}
    first, second = m.expectations
    assert first.client == SpecifierSet(">=3.0") and first.gateway == SpecifierSet("<2.0")
    assert (first.kind, first.ticket, str(first.expires), first.line) == (
        "incompatible",
        "GW-17",
        "2027-03-31",
        32,
    )
    assert second.gateway == SpecifierSet("==2.2.0") and second.client == SpecifierSet()
    assert (second.venue, second.scenario, second.kind, second.line) == ("o*", "test_s0*", "unsupported", 38)
    assert m.settings["start_timeout_s"] == 15
    assert len(m.sha256) == 64


def test_defaults(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        """\
        products:
          gateway: {package: g, source: g, launch: [{argv: ["{bin}/g"]}]}
          client: {package: c, source: c, adapter: adapter.py}
        venues: [obx]
        """,
    )
    assert m.index.find_links == tmp_path.resolve() / "wheelhouse"
    assert all(p.kind == "all" and p.candidate and not p.include_yanked for p in m.policies.values())
    assert m.lock.path == tmp_path.resolve() / "compat.lock.json" and m.lock.reuse
    assert set(m.hosts.values()) == {"local"} and m.expectations == () and dict(m.settings) == {}
    assert m.products["gateway"].launch[0].versions == SpecifierSet()


def test_without_candidates(tmp_path: Path) -> None:
    m = load(tmp_path, VALID).without_candidates()
    assert not any(p.candidate for p in m.policies.values())


def test_launch_for_picks_first_matching_range(tmp_path: Path) -> None:
    gw = load(tmp_path, VALID).products["gateway"]
    assert gw.launch_for("1.1.0").line == 8
    assert gw.launch_for("2.0.0").line == 10
    assert gw.launch_for("3.1.0.dev0+g1234").line == 10  # candidates are often pre-releases


def test_launch_for_without_match_names_version_and_line(tmp_path: Path) -> None:
    m = load(tmp_path, VALID.replace('versions: ">=2.0"', 'versions: ">=2.0,<3"'))
    with pytest.raises(ConfigError) as info:
        m.products["gateway"].launch_for("3.0.0")
    assert isinstance(info.value, MatrixError) and info.value.line == 8
    assert "3.0.0" in str(info.value) and "<2.0 (line 8)" in str(info.value)


def test_render_fills_placeholders(tmp_path: Path) -> None:
    template = load(tmp_path, VALID).products["gateway"].launch[0]
    argv = template.render({"python": "/v/bin/python", "exchange_host": "127.0.0.1", "exchange_port": 4001})
    assert argv == ("/v/bin/python", "-m", "refgw", "--exchange", "127.0.0.1:4001")
    with pytest.raises(MatrixError, match="exchange_port"):
        template.render({"python": "p", "exchange_host": "h"})


def test_error_message_names_the_file_and_line(tmp_path: Path) -> None:
    err = error(tmp_path, VALID.replace("venues: [obx, tlx]", "venues: obx"))
    assert err.line == 28
    assert str(err).endswith("matrix.yaml:28: venues must be a list, got 'obx'")


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        # unknown keys list the allowed ones (and suggest the near miss)
        (
            "index:\n  find_links: wheels",
            "index:\n  find_link: wheels",
            17,
            [
                "unknown key 'find_link' in index",
                "did you mean 'find_links'",
                "allowed keys: find_links, url",
            ],
        ),
        (
            "schema: 1",
            "schema: 1\nvenue: [obx]",
            2,
            ["unknown key 'venue'", "allowed keys: bench, exchange, expectations, hosts"],
        ),
        (
            "    candidate: false",
            "    candidate: false\n    yanked: true",
            25,
            ["unknown key 'yanked' in versions.client", "include_yanked"],
        ),
        # missing required keys
        ("    package: refclient\n", "", 13, ["products.client is missing the required key 'package'"]),
        (
            '    launch:\n      - versions: "<2.0"',
            '    lunch:\n      - versions: "<2.0"',
            7,
            ["unknown key 'lunch'", "did you mean 'launch'"],
        ),
        ("venues: [obx, tlx]", "venues: [obx, lse]", 28, ["venue 'lse' is not served by the built-in exchange",
                                                         "which provides obx, tlx"]),
        # wrong types
        (
            "    latest_minors: 3",
            "    latest_minors: three",
            20,
            ["versions.gateway.latest_minors must be a whole number, got 'three'"],
        ),
        ("    latest_minors: 3", "    latest_minors: 0", 20, ["at least 1"]),
        (
            "    candidate: false",
            "    candidate: maybe",
            24,
            ["versions.client.candidate must be true or false"],
        ),
        ("  reuse: false", "  reuse: [1]", 27, ["lock.reuse must be true or false, got a list"]),
        (
            "    package: refgw",
            "    package: [refgw]",
            4,
            ["products.gateway.package must be a string, got a list"],
        ),
        # bad versions and specifiers
        (
            '    list: ["1.0", "2.1.0"]',
            '    list: ["1.0", "two"]',
            23,
            ["versions.client.list entry 'two' is not a PEP 440 version"],
        ),
        (
            '      - versions: "<2.0"',
            '      - versions: "<<2.0"',
            8,
            ["products.gateway.launch[0].versions '<<2.0' is not a version specifier"],
        ),
        ('  - client: ">=3.0"', '  - client: "=>3.0"', 32, ["expectations[0].client '=>3.0'"]),
        (
            "    latest_minors: 3",
            "    latest_minors: 3\n    specifier: '>=1'",
            20,
            ["takes one of list, specifier or latest_minors, got specifier and latest_minors"],
        ),
        # launch templates: placeholders are checked at load time
        ('"{python}", "-m"', '"{pyhton}", "-m"', 9, ["unknown placeholder {pyhton}", "{python}"]),
        ('"{python}", "-m"', '"{python!r}", "-m"', 9, ["must be plain"]),
        ('"{python}", "-m"', '"{python", "-m"', 9, ["unbalanced braces"]),
        ("serve --listen", "serve --listen '", 11, ["cannot be split like a shell line"]),
        ("    ready: '^GATEWAY READY (?P<addrs>.*)$'", "    ready: '(unclosed'", 6, ["not a valid regex"]),
        # expectations
        (
            '    venue: "o*"',
            '    venue: "lse"',
            39,
            ["expectations[1].venue 'lse' matches none of the venues (obx, tlx)"],
        ),
        (
            "    expect: unsupported",
            "    expect: broken",
            41,
            ["must be one of incompatible, unsupported, compatible, got 'broken'"],
        ),
        ("    reason: yanked release\n", "", 38, ["expectations[1] is missing the required key 'reason'"]),
        (
            "    expect: unsupported",
            "    expect: unsupported\n    expires: 2027-01-01",
            42,
            ["an unsupported pairing does not expire"],
        ),
        ("    expires: 2027-03-31", "    expires: next week", 37, ["must be a date like 2027-03-31"]),
        # other sections
        (
            '  gateway: "ssh:ops@10.0.0.5:2222"',
            '  gateway: "ftp://x"',
            30,
            ["is not a host; expected local, netns:NAME"],
        ),
        ("venues: [obx, tlx]", "venues: [obx, obx]", 28, ["venue 'obx' is listed twice"]),
        ("venues: [obx, tlx]", "venues: [OBX]", 28, ["lower-case name"]),
        (
            "index:\n  find_links: wheels",
            "index:\n  find_links: wheels\n  url: http://127.0.0.1:1/simple",
            17,
            ["either find_links", "not both"],
        ),
        (
            "  find_links: wheels",
            "  url: ftp://x/simple",
            17,
            ["index.url must be an http(s):// or file:// URL"],
        ),
        (
            "    adapter: adapter.py",
            "    adapter: missing.py",
            15,
            ["products.client.adapter", "is not a file"],
        ),
        ("schema: 1", "schema: 2", 1, ["schema must be 1"]),
        ("settings:\n  start_timeout_s: 15", "settings: 15", 43, ["settings must be a mapping"]),
        (
            "  client:\n    package: refclient",
            "  client:\n    package: refclient\n    package: other",
            14,
            ["duplicate key 'package' in products.client (first given on line 13)"],
        ),
        (
            "  client:\n    package: refclient",
            "  clients:\n    package: refclient",
            12,
            ["unknown key 'clients' in products", "allowed keys: client, gateway"],
        ),
    ],
)
def test_errors_name_line_and_expectation(
    tmp_path: Path, old: str, new: str, line: int, words: list[str]
) -> None:
    assert old in VALID, old
    err = error(tmp_path, VALID.replace(old, new, 1))
    assert err.line == line, str(err)
    for word in words:
        assert word in err.message, str(err)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("products:\n  gateway: [\n", 3, ["invalid YAML"]),
        ("products:\n  gateway: {package: g\nvenues: [obx]\n", 3, ["invalid YAML"]),
        ("products:\n\tgateway: x\n", 2, ["invalid YAML", "cannot start any token"]),
        ("a: 1\n---\nb: 2\n", 2, ["invalid YAML", "single document"]),
        ("", 1, ["the file is empty"]),
        ("- just\n- a list\n", 1, ["the top level must be a mapping"]),
    ],
)
def test_malformed_yaml_gets_file_and_line(tmp_path: Path, text: str, line: int, words: list[str]) -> None:
    err = error(tmp_path, text)
    assert err.line == line, str(err)
    assert str(err).startswith(f"{err.path}:{line}: ")
    for word in words:
        assert word in str(err), str(err)


def test_missing_file_is_a_matrix_error(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="cannot read the matrix file"):
        load_matrix(tmp_path / "nope.yaml")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_bytes(b"products: \xff\xfe\n")
    with pytest.raises(MatrixError, match="not UTF-8"):
        load_matrix(path)


def test_index_url_is_normalised(tmp_path: Path) -> None:
    m = load(tmp_path, VALID.replace("  find_links: wheels", "  url: http://127.0.0.1:8080/simple"))
    assert m.index.url == "http://127.0.0.1:8080/simple/" and m.index.find_links is None


def test_a_product_not_built_here_needs_no_source_and_gets_no_candidate(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        """\
        exchange: none
        products:
          gateway: {package: g, launch: [{argv: ["{bin}/g"]}]}
          client: {package: c, adapter: adapter.py}
        versions:
          gateway: {latest_minors: 2}
        """,
    )
    assert m.products["gateway"].source is None and m.products["client"].source is None
    assert not m.policies["gateway"].candidate and not m.policies["client"].candidate


def test_a_candidate_without_a_source_names_the_ways_out(tmp_path: Path) -> None:
    err = error(
        tmp_path,
        """\
        exchange: none
        products:
          gateway: {package: g, launch: [{argv: ["{bin}/g"]}]}
          client: {package: c, adapter: adapter.py}
        versions:
          gateway: {latest_minors: 2, candidate: true}
        """,
    )
    assert err.line == 6
    text = str(err)
    assert "versions.gateway.candidate is true, but products.gateway has no source" in text
    assert "candidate: false" in text and "--compat-candidate gateway=path/to.whl" in text


def test_fails_with_one_pattern_or_several(tmp_path: Path) -> None:
    text = VALID.replace("    ticket: GW-17\n", "    ticket: GW-17\n    fails_with: {error: ProtocolVersionError}\n")
    [first, _] = load(tmp_path, text).expectations
    assert [p.record() for p in first.fails_with] == [{"error": "ProtocolVersionError"}]
    several = VALID.replace("    ticket: GW-17\n", "    ticket: GW-17\n    fails_with:\n"
                            "      - {error: LogonRejected, code: \"UNKNOWN(15)\"}\n"
                            "      - {message: 'supports \\d+\\.\\.\\d+'}\n")
    [first, _] = load(tmp_path, several).expectations
    assert [p.record() for p in first.fails_with] == [{"error": "LogonRejected", "code": "UNKNOWN(15)"},
                                                      {"message": "supports \\d+\\.\\.\\d+"}]


@pytest.mark.parametrize(
    ("fails_with", "line", "words"),
    [
        ("{error: X, kind: Y}", 37, ["unknown key 'kind' in expectations[0].fails_with", "allowed keys: code"]),
        ("{message: '(unclosed'}", 37, ["expectations[0].fails_with.message '(unclosed' is not a regular expression"]),
        ("{}", 37, ["expectations[0].fails_with is empty"]),
        ("[]", 37, ["expectations[0].fails_with is an empty list"]),
        ("[{code: 7}, {}]", 37, ["expectations[0].fails_with[1] is empty"]),
    ],
)
def test_fails_with_errors_name_the_line(tmp_path: Path, fails_with: str, line: int, words: list[str]) -> None:
    err = error(tmp_path, VALID.replace("    ticket: GW-17\n", f"    ticket: GW-17\n    fails_with: {fails_with}\n"))
    assert err.line == line, str(err)
    for word in words:
        assert word in err.message, str(err)


def test_fails_with_is_for_incompatible_rules_only(tmp_path: Path) -> None:
    err = error(tmp_path, VALID.replace("    reason: yanked release\n",
                                        "    reason: yanked release\n    fails_with: {error: X}\n"))
    assert err.line == 43 and "fails_with says how a pair fails; it is only for expect: incompatible" in err.message
