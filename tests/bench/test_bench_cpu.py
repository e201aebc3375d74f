"""What a process spends per order, read from outside it: CPU time, voluntary switches, page faults."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from compat.bench.cpu import PathMeter, read_usage

# Spends exactly 0.3 s of its own CPU time (whatever the load: counted in CPU, not wall time),
# sleeps a little 20 times (voluntary switches), touches 8 MiB of new pages, then waits.
BURN = """
import sys, time
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
for _ in range(20):
    time.sleep(0.001)
blob = bytearray(8 * 1024 * 1024)
for i in range(0, len(blob), 4096):
    blob[i] = 1
print("done", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def burner() -> Iterator[subprocess.Popen[str]]:
    # A subprocess of the test itself (not a harness role): the meter reads any pid of this machine.
    process = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    yield process
    process.kill()
    process.wait(timeout=10)


def test_the_meter_charges_each_role_what_its_processes_spent(burner: subprocess.Popen[str]) -> None:
    meter = PathMeter({"gateway": [burner.pid], "client": [os.getpid()]}).start()
    assert burner.stdout is not None and burner.stdout.readline() == "done\n"  # the work is over
    figures = meter.per_order(100)
    cpu = figures["cpu_us_per_order"]["gateway"] * 100 / 1e6  # seconds over the window
    assert 0.3 <= cpu < 3.0  # at least what it burnt; the rest is its start-up
    assert figures["switches_per_order"]["gateway"] * 100 >= 20
    assert figures["faults_per_order"]["gateway"] * 100 >= 8 * 1024 * 1024 / 4096 / 2  # pages, huge pages aside
    assert set(figures["cpu_us_per_order"]) == {"gateway", "client"}


def test_the_process_cpu_clock_agrees_with_the_kernel_tick_count(burner: subprocess.Popen[str]) -> None:
    assert burner.stdout is not None and burner.stdout.readline() == "done\n"
    usage = read_usage(burner.pid)
    assert usage is not None
    times = psutil.Process(burner.pid).cpu_times()
    assert usage.cpu_ns / 1e9 == pytest.approx(times.user + times.system, abs=0.05)  # ticks are 10 ms


def test_a_process_gone_mid_window_gives_no_figure() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    meter = PathMeter({"gateway": [process.pid]}).start()
    process.kill()
    process.wait(timeout=10)
    assert meter.per_order(10) == {"cpu_us_per_order": {}, "switches_per_order": {}, "faults_per_order": {}}
    assert read_usage(process.pid) is None
