"""matrix.yaml: the exchange role (built-in, own simulator, none) and the launch contract
(env, stop sequences, {matrix_dir}, ready patterns), each mistake a MatrixError at its line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from compat.config.cell import Cell, Release
from compat.config.matrix import (
    BUILTIN_VENUES,
    DEFAULT_READY_PATTERN,
    PLACEHOLDERS,
    Matrix,
    load_matrix,
    render_env,
)
from compat.errors import MatrixError

DOC = Path(__file__).resolve().parents[2] / "docs" / "matrix-yaml.md"

PRODUCTS = """\
products:
  gateway:
    package: gw
    source: .
    launch:
      - argv: "{bin}/gw --listen {listen_host}:0 --exchange {exchange}"
  client:
    package: cl
    source: .
    adapter: adapter.py
"""


def load(tmp_path: Path, text: str) -> Matrix:
    (tmp_path / "adapter.py").write_text("class Adapter: ...\n")
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent(text))
    return load_matrix(path)


def error(tmp_path: Path, text: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        load(tmp_path, text)
    return info.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


# --- the exchange role -----------------------------------------------------------------------------


def test_the_builtin_exchange_is_the_default_and_venues_default_to_its_own(tmp_path: Path) -> None:
    m = load(tmp_path, PRODUCTS)
    assert m.exchange.kind == "builtin" and m.exchange.runs and m.exchange.builtin
    assert m.venues == BUILTIN_VENUES == ("obx", "tlx")
    assert load(tmp_path, PRODUCTS + "exchange: builtin\nvenues: [tlx]\n").venues == ("tlx",)


def test_a_venue_the_builtin_exchange_lacks_is_refused_at_its_line(tmp_path: Path) -> None:
    text = PRODUCTS + "venues:\n  - obx\n  - lse\n"
    err = error(tmp_path, text)
    assert err.line == line_of(text, "- lse")
    assert "venue 'lse' is not served by the built-in exchange, which provides obx, tlx" in str(err)


def test_exchange_none_needs_no_venues_and_refuses_exchange_placeholders(tmp_path: Path) -> None:
    ok = PRODUCTS.replace(" --exchange {exchange}", "") + "exchange: none\n"
    m = load(tmp_path, ok)
    assert m.exchange.kind == "none" and not m.exchange.runs and m.venues == ()
    assert load(tmp_path, ok + "venues: []\n").venues == ()
    assert load(tmp_path, ok + "venues: [anywhere]\n").venues == ("anywhere",)  # labels only

    err = error(tmp_path, PRODUCTS + "exchange: none\n")
    assert err.line == line_of(PRODUCTS, "argv:")
    assert "placeholder {exchange}, which cannot be filled here" in str(err)
    assert "exchange: none" in str(err)

    env = ok.replace("    adapter: adapter.py\n", "    adapter: adapter.py\n") \
        .replace("  gateway:\n", "  gateway:\n    env: {UPSTREAM: '{exchange_host}'}\n")
    err = error(tmp_path, env)
    assert err.line == line_of(env, "UPSTREAM") and "{exchange_host}" in str(err)


def test_a_bad_exchange_value_names_the_forms(tmp_path: Path) -> None:
    text = PRODUCTS + "exchange: internal\n"
    err = error(tmp_path, text)
    assert err.line == line_of(text, "exchange: internal")
    assert "exchange must be builtin, none or a mapping" in str(err)


SIMULATOR = PRODUCTS + """\
exchange:
  argv: ["{matrix_dir}/sim", "--listen", "{listen_host}:{listen_port}", "--logs", "{log_dir}"]
  venues: [xch, ych]
  ready: '^SIM READY (?P<addrs>.+)$'
  env: {SIM_HOME: "{matrix_dir}/state", SIM_SEED: 7}
  stop: [TERM, SIGKILL]
  stop_grace_s: 1.5
"""


def test_an_own_simulator_is_parsed(tmp_path: Path) -> None:
    m = load(tmp_path, SIMULATOR)
    sim = m.exchange
    assert sim.kind == "command" and sim.runs and not sim.builtin
    assert sim.venues == ("xch", "ych") and m.venues == ("xch", "ych")  # venues default to the simulator's
    assert sim.launch is not None and sim.launch.argv[0] == "{matrix_dir}/sim"
    assert sim.ready_pattern == "^SIM READY (?P<addrs>.+)$"
    assert dict(sim.env) == {"SIM_HOME": "{matrix_dir}/state", "SIM_SEED": "7"}
    assert sim.stop == ("TERM", "KILL") and sim.stop_grace_s == 1.5
    assert render_env(sim.env, {"matrix_dir": "/m"}) == {"SIM_HOME": "/m/state", "SIM_SEED": "7"}
    assert load(tmp_path, SIMULATOR + "venues: [ych]\n").venues == ("ych",)


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("venues: [xch, ych]\n", "venues: [xch, ych]\n  venues_: 1\n", "venues_",
         ["unknown key 'venues_' in exchange"]),
        ('"{matrix_dir}/sim"', '"{bin}/sim"', "{bin}/sim", ["placeholder {bin}, which cannot be filled here"]),
        ("(?P<addrs>.+)", "(?P<xch>\\S+)", "ready:", ["one address per venue", "missing: ych"]),
        ("(?P<addrs>.+)", "(?P<xch", "ready:", ["exchange.ready is not a valid regex"]),
        ("[TERM, SIGKILL]", "[TERM, TREM]", "stop:", ["exchange.stop: 'TREM' is not a signal"]),
        ("[TERM, SIGKILL]", "[STOP]", "stop:", ["'STOP' is not a signal a stop sequence can send"]),
        ("stop_grace_s: 1.5", "stop_grace_s: -1", "stop_grace_s", ["positive number of seconds"]),
        ("  venues: [xch, ych]\n", "", "argv: [", ["exchange is missing the required key 'venues'"]),
    ],
)
def test_simulator_mistakes_name_their_line(tmp_path: Path, old: str, new: str, needle: str,
                                            words: list[str]) -> None:
    assert old in SIMULATOR
    text = SIMULATOR.replace(old, new)
    err = error(tmp_path, text)
    for word in words:
        assert word in str(err), str(err)
    assert err.line == line_of(text, needle), str(err)


def test_a_venue_the_simulator_does_not_declare_is_refused(tmp_path: Path) -> None:
    text = SIMULATOR + "venues: [obx]\n"
    err = error(tmp_path, text)
    assert err.line == line_of(text, "venues: [obx]")
    assert "not served by the simulator of matrix.yaml's exchange section, which provides xch, ych" in str(err)


def test_a_simulator_of_one_venue_may_report_host_and_port_or_a_group_per_venue(tmp_path: Path) -> None:
    one = SIMULATOR.replace("[xch, ych]", "[xch]")
    assert load(tmp_path, one.replace("(?P<addrs>.+)", r"(?P<host>\S+):(?P<port>\d+)")).venues == ("xch",)
    named = SIMULATOR.replace("(?P<addrs>.+)", r"xch=(?P<xch>\S+) ych=(?P<ych>\S+)")
    assert load(tmp_path, named).exchange.venues == ("xch", "ych")


# --- the launch contract of a product ------------------------------------------------------------


def test_product_env_stop_and_matrix_dir(tmp_path: Path) -> None:
    text = PRODUCTS.replace("  gateway:\n", "  gateway:\n    env: {GW_HOME: '{matrix_dir}/gw', GW_VENUE: '{venue}'}\n"
                                             "    stop: [term, KILL]\n    stop_grace_s: 2\n") \
        .replace("--listen", "--config {matrix_dir}/gw.toml --listen") \
        .replace("    adapter: adapter.py\n", "    adapter: adapter.py\n    env: {CL_LOGS: '{log_dir}'}\n")
    m = load(tmp_path, text)
    gateway, client = m.products["gateway"], m.products["client"]
    assert "matrix_dir" in PLACEHOLDERS and "{matrix_dir}/gw.toml" in gateway.launch[0].argv
    assert dict(gateway.env) == {"GW_HOME": "{matrix_dir}/gw", "GW_VENUE": "{venue}"}
    assert gateway.stop == ("TERM", "KILL") and gateway.stop_grace_s == 2.0
    assert dict(client.env) == {"CL_LOGS": "{log_dir}"} and client.stop == () and client.stop_grace_s is None


@pytest.mark.parametrize(
    ("insert", "words"),
    [
        ("    stop: [INT, BREAK]\n", ["products.gateway.stop: 'BREAK' is not a signal"]),
        ("    stop: []\n", ["products.gateway.stop must name at least one signal"]),
        ("    stop: [TERM, TERM]\n", ["products.gateway.stop lists TERM twice"]),
        ("    env: {1BAD: x}\n", ["'1BAD' is not an environment variable name"]),
        ("    env: {GOOD: '{nope}'}\n", ["products.gateway.env.GOOD uses unknown placeholder {nope}"]),
        ("    ready: '^UP (?P<where>.+)$'\n", ["products.gateway.ready has no group for the client address"]),
    ],
)
def test_product_launch_mistakes_name_their_line(tmp_path: Path, insert: str, words: list[str]) -> None:
    text = PRODUCTS.replace("  gateway:\n", "  gateway:\n" + insert)
    err = error(tmp_path, text)
    for word in words:
        assert word in str(err), str(err)
    assert err.line == line_of(text, insert.strip().split(":")[0] + ":"), str(err)


def test_a_client_env_may_not_ask_for_gateway_only_values(tmp_path: Path) -> None:
    text = PRODUCTS.replace("    adapter: adapter.py\n", "    adapter: adapter.py\n    env: {J: '{journal}'}\n")
    err = error(tmp_path, text)
    assert err.line == line_of(text, "env: {J:") and "placeholder {journal}, which cannot be filled here" in str(err)


# --- the default ready line: documented once, equal to the code ---------------------------------


@pytest.mark.parametrize(
    ("line", "groups"),
    [
        ("GATEWAY READY client=127.0.0.1:40003", {"addrs": "client=127.0.0.1:40003"}),
        ("READY 127.0.0.1:46063", {"host": "127.0.0.1", "port": "46063"}),
        ("GATEWAY READY 0.0.0.0:5000", {"host": "0.0.0.0", "port": "5000"}),
        ("READY [::1]:46063", {"host": "[::1]", "port": "46063"}),
        ("READY client=127.0.0.1:1 admin=127.0.0.1:2", {"addrs": "client=127.0.0.1:1 admin=127.0.0.1:2"}),
    ],
)
def test_the_default_ready_pattern_reads_both_shapes(line: str, groups: dict[str, str]) -> None:
    found = re.search(DEFAULT_READY_PATTERN, line)
    assert found is not None
    assert {k: v for k, v in found.groupdict().items() if v is not None} == groups


def test_the_launch_contract_documents_the_codes_default_ready_pattern() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = re.search(r"## Launch contract\n(.*?)\n## ", text, re.S)
    assert section is not None, "docs/matrix-yaml.md lost its Launch contract section"
    documented = re.search(r"default ready line[^`]*```\n(.*?)\n```", section.group(1), re.S)
    assert documented is not None, "the Launch contract must show the default ready regex in a code block"
    assert documented.group(1) == DEFAULT_READY_PATTERN
    for name in ("host", "port", "addrs", "{matrix_dir}", "env:", "stop:", "stop_grace_s"):
        assert name in section.group(1), name


def test_a_cell_without_a_venue_has_no_venue_part() -> None:
    client = Release("client", "cl", "1.2.0", Path("c.whl"), "0" * 64)
    gateway = Release("gateway", "gw", "2.0.0", Path("g.whl"), "1" * 64)
    assert Cell(client, gateway, "").id == "client-1.2.0--gateway-2.0.0"
    assert Cell(client, gateway, "obx").id == "client-1.2.0--gateway-2.0.0--venue-obx"
