"""The HTML report in a real headless Chromium: load it from disk, check the grid through
the DOM, click a failing cell with a real mouse event, check the drill-down, take a
screenshot (a test artifact under report/artifacts/), and prove the page made no request
other than the file itself. A report of the reference matrix's size: its sizes, its load time
measured in the browser, and the first viewport at 1280×800 (issue 16).

Chromium is driven over the DevTools protocol with a tiny stdlib websocket client, so the
test needs nothing but Debian's ``chromium`` package.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from compat.report.demo import demo_results, reference_size_results
from compat.report.writer import write_reports

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1600,1100",
)


def _chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium not installed: apt-get install chromium")


class _WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: text frames, client-side masking."""

    def __init__(self, url: str, timeout_s: float) -> None:
        assert url.startswith("ws://"), url
        hostport, _, path = url[len("ws://") :].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"DevTools closed the websocket handshake: {response!r}")
            response += chunk
        head, _, self._buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"DevTools refused the websocket: {head.decode(errors='replace')}")

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the websocket")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._read(8))
            payload = self._read(length)
            if opcode == 0x8:
                raise ConnectionError("DevTools sent a websocket close frame")
            if opcode in (0x9, 0xA):
                continue  # ping/pong: not used by DevTools, ignore
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class _DevTools:
    """Request/response over one page target; events are kept for later assertions."""

    def __init__(self, ws: _WebSocket) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"DevTools {method} failed: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"page script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[_DevTools]:
    binary = _chromium_binary()
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: we stop exactly what we started
    )
    found: dict[str, str] = {}
    ready = threading.Event()
    log: list[str] = []

    def drain() -> None:  # keep reading stderr so chromium never blocks on a full pipe
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            log.append(line)
            if "DevTools listening on ws://" in line and not ready.is_set():
                found["ws"] = line.split("DevTools listening on ", 1)[1].strip()
                ready.set()
        ready.set()  # EOF: chromium died; the check below reports it

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    ws: _WebSocket | None = None
    try:
        if not ready.wait(TIMEOUT_S) or "ws" not in found:
            tail = "\n".join(log[-20:])
            pytest.fail(
                f"chromium did not report its DevTools address within {TIMEOUT_S}s "
                f"(exit code {proc.poll()}); stderr tail:\n{tail}"
            )
        port = found["ws"].split("//", 1)[1].split("/", 1)[0]
        with urllib.request.urlopen(f"http://{port}/json/list", timeout=TIMEOUT_S) as reply:
            targets = json.load(reply)
        page = next(t for t in targets if t["type"] == "page")
        ws = _WebSocket(page["webSocketDebuggerUrl"], TIMEOUT_S)
        yield _DevTools(ws)
    finally:
        if ws is not None:
            ws.close()
        _stop_group(proc)
        reader.join(timeout=TIMEOUT_S)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM, then KILL, chromium's own process group; assert nothing of it survives."""
    try:
        family = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        family = [proc.pid]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    _, alive = psutil.wait_procs([p for p in map(_process, family) if p is not None], timeout=10)
    assert not alive, f"chromium processes survived: {[p.pid for p in alive]}"


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def test_report_opens_from_disk_and_drills_down(
    chromium: _DevTools, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    html = tmp_path / "report.html"
    write_reports(demo_results(10, 10, ("obx", "tlx")), html_path=html, step_summary=False)
    url = html.resolve().as_uri()

    chromium.call("Network.enable")
    chromium.call("Page.enable")
    chromium.call("Page.navigate", url=url)
    chromium.evaluate(
        "new Promise(r => { if (document.readyState === 'complete') r(1);"
        " else addEventListener('load', () => r(1)); })"
    )
    assert chromium.evaluate("document.documentElement.dataset.ready") == "1", "report.js did not run"

    grids = chromium.evaluate(
        "[...document.querySelectorAll('table.grid[data-venue]')].map(t => t.dataset.venue)"
    )
    assert grids == ["obx", "tlx"]
    assert chromium.evaluate("document.querySelectorAll('td.cell[data-cell-id][data-verdict]').length") == 200
    # readable: the 10-column grid fits beside the detail panel, cells are not squashed
    width = chromium.evaluate("document.querySelector('table.grid').getBoundingClientRect().width")
    cell_box = chromium.evaluate(
        "(() => { const r = document.querySelector('td.cell').getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    assert width < 1000 and cell_box[0] >= 50 and cell_box[1] >= 36, (width, cell_box)

    # a real mouse click on the failing cell client 2.0.0 x gateway 2.3.0 in venue tlx
    selector = "td.cell[data-venue='tlx'][data-client='2.0.0'][data-gateway='2.3.0']"
    assert chromium.evaluate(f'document.querySelector("{selector}").dataset.verdict') == "fail"
    x, y = chromium.evaluate(
        f"(() => {{ const el = document.querySelector(\"{selector}\");"
        " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        chromium.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    detail = chromium.evaluate("document.getElementById('detail').innerText")
    assert "client 2.0.0 \N{MULTIPLICATION SIGN} gateway 2.3.0" in detail
    assert (
        chromium.evaluate("document.getElementById('detail').dataset.cellId") == "client-2.0.0--gateway-2.3.0"
    )
    failing = "#detail .scenario[data-verdict='fail']"
    assert chromium.evaluate(f'document.querySelector("{failing}").dataset.scenario') == "S13_md_snapshot"
    assert "AssertionError: fill price 200.50 != 100.25 (gateway 2.3.0)" in chromium.evaluate(
        f'document.querySelector("{failing} pre.message").innerText'
    )
    logs = chromium.evaluate(
        f'Object.fromEntries([...document.querySelectorAll("{failing} pre.log")]'
        ".map(p => [p.dataset.role, p.innerText]))"
    )
    assert sorted(logs) == ["client", "exchange", "gateway"]
    assert "decoded price_ticks=20050" in logs["gateway"]
    assert chromium.evaluate(f'document.querySelector("{failing} .wire-summary").innerText') == (
        "gateway 2.3.0 answered NewOrder with ExecutionReport(price_ticks=20050) "
        "where gateway 2.2.0 sent ExecutionReport(price_ticks=10025)"
    )
    assert chromium.evaluate(f"document.querySelector(\"{selector}\").classList.contains('selected')") is True

    shot = chromium.call("Page.captureScreenshot", format="png")
    artifacts = request.config.rootpath / "report" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    png = artifacts / "report-html-drilldown.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    print(f"screenshot: {png}")

    requested = [
        e["params"]["request"]["url"]
        for e in chromium.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(u.startswith("file://") for u in requested), requested


VIEWPORT = (1280, 800)
READY_WITHIN_MS = 1000  # issue 16: the report is interactive within 1 s of load, measured in the browser
HTML_MAX_BYTES, JSON_MAX_BYTES = 3_000_000, 5_000_000


def _load(chromium: _DevTools, url: str) -> dict[str, float]:
    """Navigate and wait for the load event; the page's own timings (ms from navigation start)."""
    chromium.call("Page.navigate", url=url)
    chromium.evaluate(
        "new Promise(r => { if (document.readyState === 'complete') r(1);"
        " else addEventListener('load', () => r(1)); })"
    )
    timings: dict[str, float] = chromium.evaluate(
        "(() => { const nav = performance.getEntriesByType('navigation')[0];"
        " const ready = performance.getEntriesByName('compat-ready')[0];"
        " return {interactive: nav.domInteractive, loaded: nav.loadEventEnd,"
        " ready: ready ? ready.startTime : -1}; })()"
    )
    return timings


def _click(chromium: _DevTools, selector: str) -> None:
    """A real mouse click in the middle of the element (scrolled into view first)."""
    x, y = chromium.evaluate(
        f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
        " el.scrollIntoView({block: 'nearest'}); const r = el.getBoundingClientRect();"
        " return [r.x + Math.min(r.width / 2, 40), r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        chromium.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def test_reference_size_report_answers_the_three_questions_in_the_first_viewport(
    chromium: _DevTools, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The HTML of a matrix of the reference matrix's size (compat.report.demo.reference_size_results:
    72 cells × 45 scenarios): small enough, interactive within a second, and its first viewport at
    1280×800 holds the gate decision, the flips since the last release run and the grid; a flipped
    cell named there opens its drill-down, and one scenario's detail opens with a click."""
    html, report = tmp_path / "matrix.html", tmp_path / "matrix.json"
    write_reports(reference_size_results(), json_path=report, html_path=html, step_summary=False)
    assert html.stat().st_size <= HTML_MAX_BYTES, f"HTML report {html.stat().st_size} bytes"
    assert report.stat().st_size <= JSON_MAX_BYTES, f"JSON report {report.stat().st_size} bytes"

    width, height = VIEWPORT
    chromium.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    chromium.call("Page.enable")
    url = html.resolve().as_uri()
    # The best of two loads: on a shared 2-core machine another process can stall one load for
    # seconds; what is measured is the page's own cost (parse, layout, report.js), in the browser.
    loads = [_load(chromium, url) for _ in range(2)]
    best = min(loads, key=lambda t: t["ready"])
    assert best["ready"] >= 0, "report.js did not mark compat-ready"
    assert best["interactive"] <= READY_WITHIN_MS and best["ready"] <= READY_WITHIN_MS, loads

    boxes = chromium.evaluate(
        "Object.fromEntries(['#gate', '#changes', 'table.grid', 'table.grid tbody tr:first-child td.cell']"
        ".map(s => { const r = document.querySelector(s).getBoundingClientRect(); return [s, [r.top, r.bottom]]; }))"
    )
    assert chromium.evaluate("[window.innerWidth, window.innerHeight]") == [width, height]
    for selector, (top, bottom) in boxes.items():
        assert top >= 0 and bottom <= height, (selector, top, bottom, boxes)  # wholly in the first viewport
    gate = chromium.evaluate("document.getElementById('gate').innerText")
    assert gate.startswith("Release gate: BLOCKED by 6 inside the support window: 6 breaks"), gate
    changes = chromium.evaluate("document.getElementById('changes').innerText")
    assert "9 scenarios flipped in 9 cells (8 worse, 1 better)" in changes, changes
    assert chromium.evaluate("document.querySelectorAll('table.grid:not(.swap-grid) td.cell').length") == 72
    assert chromium.evaluate("document.querySelectorAll('table.swap-grid td.cell').length") == 20  # live swaps

    # a flipped cell named on the first screen opens its drill-down ...
    flip = "#changes li[data-direction='worse'] a.cell-link"
    cell_id = chromium.evaluate(f"document.querySelector({json.dumps(flip)}).innerText")
    _click(chromium, flip)
    assert chromium.evaluate("document.getElementById('detail').dataset.cellId") == cell_id
    failing = "#detail .scenario[data-verdict='fail']"
    assert chromium.evaluate(f"document.querySelector({json.dumps(failing)}).open") is True
    assert "fill price '' != '10.00'" in chromium.evaluate(
        f"document.querySelector({json.dumps(failing + ' pre.message')}).innerText")
    # ... and one scenario's detail opens with a click on it
    passing = "#detail .scenario[data-verdict='pass']"
    assert chromium.evaluate(f"document.querySelector({json.dumps(passing)}).open") is False
    _click(chromium, passing + " > summary")
    assert chromium.evaluate(f"document.querySelector({json.dumps(passing)}).open") is True
    nodeid = chromium.evaluate(f"document.querySelector({json.dumps(passing + ' .nodeid')}).innerText")
    assert nodeid.startswith("tests/compat/test_") and cell_id in nodeid

    shot = chromium.call("Page.captureScreenshot", format="png")
    artifacts = request.config.rootpath / "report" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "report-html-reference-size.png").write_bytes(base64.b64decode(shot["data"]))
    print(f"loads (ms from navigation start): {loads}; HTML {html.stat().st_size} B, JSON {report.stat().st_size} B")
