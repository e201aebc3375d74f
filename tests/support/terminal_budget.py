"""The line budget of a clean matrix run's terminal (issue 16: "fits one screen when nothing is
broken"), shared by the test of the compat section on a run of the reference matrix's shape
(tests/report/test_terminal_budget.py) and the test of what pytest prints around it on a real
run (tests/matrix/test_terminal.py)."""

from __future__ import annotations

from compat.plugin.console import LOG_UPDATES

# The whole output of the README's `pytest -m compat -n auto --compat-report-dir report` on a clean
# run, through a pipe (a CI log: the progress as whole lines), pytest's own lines included.
SCREEN_LINES = 40
# What pytest prints around the compat section: the session header (the "test session starts"
# rule, platform, compat's header line, rootdir, configfile, testpaths, plugins, xdist's
# "created" and "N workers" lines, a blank line; another installed pytest plugin may add its
# own line, which compat does not budget), the progress in a log (LOG_UPDATES lines),
# pytest's "[100%]", the verdict cache's line ("compat verdict cache: N of M results reused"),
# the section's title rule and pytest's last line ("N passed ... in ...").
HEADER_LINES = 10
AROUND_LINES = HEADER_LINES + LOG_UPDATES + 4
# What is left for the compat section itself on a run of the reference matrix's shape.
SECTION_LINES = SCREEN_LINES - AROUND_LINES
