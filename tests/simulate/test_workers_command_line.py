"""``creditcore simulate --workers N`` prints the same for any N, refuses a bad N or a --db
ledger on many workers in one line, and shows a progress bar on stderr only where it should:
never on stdout, on a terminal, or when asked with --progress."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from simstorage import Storage

from cli_output import one_line
from creditcore.cli import main
from creditcore.cli.simulate import ProgressBar

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "creditcore"
EXAMPLE = ROOT / "examples" / "mobility.toml"


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "simulate", *args], capture_output=True, text=True, timeout=300)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["simulate", *args])


def test_the_command_line_prints_the_same_on_any_number_of_workers(tmp_path: Path) -> None:
    outputs = []
    for workers in ("1", "2", "3"):
        timeline = tmp_path / f"timeline-{workers}.csv"
        done = simulate(str(EXAMPLE), "--json", "--csv", str(timeline), "--workers", workers)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        outputs.append((json.loads(done.stdout), timeline.read_text()))
    assert outputs[0] == outputs[1] == outputs[2]
    tables = [simulate(str(EXAMPLE), "--workers", workers).stdout for workers in ("1", "2")]
    assert tables[0] == tables[1] and "total" in tables[0]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_the_chart_is_the_same_file_on_two_workers(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    charts = []
    for workers in ("1", "2"):
        chart = tmp_path / f"chart-{workers}{suffix}"
        done = simulate(str(EXAMPLE), "--plot", str(chart), "--workers", workers)
        assert done.returncode == 0, done.stderr
        charts.append(chart.read_bytes())
    assert charts[0] == charts[1]


@pytest.mark.parametrize("workers", ["0", "-1", "two", "1.5", "", "1025"])
def test_a_bad_number_of_workers_is_one_line_and_exit_2(workers: str) -> None:
    line = one_line(invoke(str(EXAMPLE), "--workers", workers), 2, "error: usage: ")
    assert "--workers" in line


def test_a_ledger_on_many_workers_is_refused_in_one_line_naming_both_options(tmp_path: Path, storage: Storage) -> None:
    line = one_line(invoke(str(EXAMPLE), "--db", storage.db, "--workers", "2"), 2, "error: usage: ")
    assert "--db" in line and "--workers 2" in line
    assert list(tmp_path.iterdir()) == []
    if storage.postgres:  # refused before it connects: not even the schema is there
        import psycopg

        with psycopg.connect(storage.db) as conn:
            assert conn.execute("SELECT to_regclass('creditcore_migrations')").fetchone() == (None,)
    else:  # a run on PostgreSQL: test_examples (this example takes 10 s there)
        assert invoke(str(EXAMPLE), "--db", storage.db, "--workers", "1", "--json").exit_code == 0


def test_no_progress_bar_off_a_terminal_unless_asked() -> None:
    for args in ((), ("--no-progress",), ("--workers", "2")):
        done = invoke(str(EXAMPLE), "--json", *args)
        assert done.exit_code == 0 and done.stderr == "", done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_progress_bar_when_asked_goes_to_stderr_and_ends_at_100_percent(workers: str) -> None:
    done = invoke(str(EXAMPLE), "--json", "--progress", "--workers", workers)
    assert done.exit_code == 0, done.stderr
    json.loads(done.stdout)  # stdout is the summary alone
    lines = done.stderr.splitlines()
    assert lines[0].startswith("simulating [") and lines[0].endswith("  0%  ETA -:--:--"), lines
    assert "] 100%  took 0:00:" in lines[-1], lines
    assert "\r" not in done.stderr and "\x1b" not in done.stderr  # a log gets plain lines


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_shows_the_share_done_and_the_time_left() -> None:
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(out, terminal=False, every=5.0, clock=clock)
    bar(0, 1000)
    clock.now += 10
    bar(250, 1000)  # a quarter in 10 s: 30 s left
    clock.now += 1
    bar(300, 1000)  # too soon after the last line
    clock.now += 5
    bar(500, 1000)
    clock.now += 15
    bar(1000, 1000)  # the end is always shown
    bar.close()
    assert out.getvalue().splitlines() == [
        "simulating [..............................]   0%  ETA -:--:--",
        "simulating [#######.......................]  25%  ETA 0:00:30",
        "simulating [###############...............]  50%  ETA 0:00:16",
        "simulating [##############################] 100%  took 0:00:31",
    ]


def test_on_a_terminal_the_bar_redraws_one_line_appears_after_a_second_and_is_erased() -> None:
    clock, out = Clock(), Terminal()
    bar = ProgressBar(out, terminal=True, delay=1.0, clock=clock)
    bar(10, 100)
    assert out.getvalue() == ""  # a quick run shows no bar
    clock.now += 2
    bar(50, 100)
    clock.now += 0.05
    bar(60, 100)  # redrawn at most 10 times a second
    clock.now += 0.1
    bar(75, 100)
    bar.close()
    assert out.getvalue() == (
        "\rsimulating [###############...............]  50%  ETA 0:00:02\x1b[K"
        "\rsimulating [######################........]  75%  ETA 0:00:00\x1b[K"
        "\r\x1b[K"
    )
