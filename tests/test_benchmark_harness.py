"""The benchmark harness's mechanics (benchmarks/_harness.py) with tiny fake workers: no speed is measured.

Every case starts a few fresh Python processes that import nothing heavy, so the file runs in about a
second; nothing here asserts on how long anything took.
"""
import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import refs_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _harness  # noqa: E402

# Fake workers: the "seconds" they report are made up, which is what makes the ratio testable.
WORKERS = textwrap.dedent('''
    import os

    def ours():
        return {"seconds": 1.0, "version": "fake"}

    def theirs():
        return {"seconds": 2.0, "version": "fake"}

    def counting(path):
        # each run reports the next value of 3, 1, 2: the median is 2
        n = len(open(path).read()) if os.path.exists(path) else 0
        with open(path, "a") as f:
            f.write("x")
        return {"seconds": [3.0, 1.0, 2.0][n], "tokens": 7}

    def missing_tool():
        import surely_not_an_installed_module_xyz  # noqa: F401
        return {"seconds": 1.0}

    def raises():
        raise ValueError("bad input on purpose")

    def dies():
        os._exit(3)

    def threads_seen():
        return {"seconds": 1.0, "omp": os.environ.get("OMP_NUM_THREADS"),
                "rayon": os.environ.get("RAYON_NUM_THREADS")}
''')


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("harness") / "fake_bench.py"
    path.write_text(WORKERS, encoding="utf-8")
    return path


def test_median_of_known_values():
    assert _harness.median([3, 1, 2]) == 2
    assert _harness.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        _harness.median([])


def test_median_over_fresh_runs(script, tmp_path):
    row = _harness.measure(script, "counting", {"path": str(tmp_path / "count")}, runs=3, quiet=True)
    assert row["status"] == "ok" and row["runs"] == 3
    assert [s["seconds"] for s in row["samples"]] == [3.0, 1.0, 2.0]
    assert row["seconds"] == 2.0 and row["tokens"] == 7
    assert row["peak_mb"] > 0


def test_speedup_is_their_time_over_ours(script):
    assert _harness.speedup(1.0, 2.0) == 2.0
    rows = [_harness.measure(script, "ours", runs=1, row={"tool": "fasttok", "task": "t"}, quiet=True),
            _harness.measure(script, "theirs", runs=1, row={"tool": "peer", "task": "t"}, quiet=True)]
    _harness.add_speedups(rows, lambda r: r["tool"] == "fasttok")
    assert [r["speedup"] for r in rows] == [1.0, 2.0]
    table = _harness.format_table([("tool", "tool", None), ("speed-up", "speedup", "{:.2f}")], rows)
    assert "their time / our time (above 1: fasttok/lm is faster)" in table.splitlines()[0]
    assert "| peer | 2.00 |" in table


def test_missing_module_is_a_skipped_row(script):
    row = _harness.measure(script, "missing_tool", runs=3, row={"tool": "nope"}, quiet=True)
    assert row["status"] == "skipped" and row["runs"] == 1
    assert "surely_not_an_installed_module_xyz" in row["reason"]
    table = _harness.format_table([("tool", "tool", None), ("seconds", "seconds", "{:.3f}")], [row])
    assert "| nope | skipped: ModuleNotFoundError" in table


@pytest.mark.parametrize("worker, reason", [("raises", "ValueError: bad input on purpose"),
                                            ("dies", "exit code 3")])
def test_child_failure_is_a_failed_row(script, worker, reason):
    row = _harness.measure(script, worker, runs=2, row={"tool": "x"}, quiet=True)
    assert row["status"] == "failed" and reason in row["reason"]
    assert not _harness.add_speedups([row], lambda r: True)[0].get("speedup")


def test_threads_are_pinned_in_the_child(script):
    row = _harness.measure(script, "threads_seen", runs=1, threads=2, quiet=True)
    assert (row["omp"], row["rayon"]) == ("2", "2")


def test_json_round_trip(script, tmp_path):
    rows = [_harness.measure(script, "theirs", runs=1, row={"tool": "peer"}, quiet=True),
            _harness.not_run({"tool": "gpt2 row"}, "GPT-2 files not found")]
    path = tmp_path / "out" / "result.json"
    payload = _harness.results(rows=rows, corpus="fake")
    _harness.write_json(path, payload)
    back = _harness.read_json(path)
    assert back == json.loads(json.dumps(payload))
    assert back["rows"][0]["seconds"] == 2.0 and back["rows"][1]["status"] == "skipped"
    assert back["convention"] == _harness.CONVENTION


def test_gpt2_dir_default_and_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTTOK_REFS", str(tmp_path))
    assert _harness.default_gpt2_dir() == tmp_path / "gpt2"
    assert "encoder.json" in _harness.gpt2_missing(tmp_path / "gpt2")
    monkeypatch.delenv("FASTTOK_REFS")
    # without the variable, benchmarks look where the test suite's refs fixture looks
    assert _harness.default_gpt2_dir() == refs_dir() / "gpt2"


def test_common_options():
    import argparse
    parser = _harness.add_common_arguments(argparse.ArgumentParser(), gpt2=True)
    args = parser.parse_args(["--runs", "5", "--threads", "2", "--json", "out.json", "--gpt2-dir", "/g"])
    assert (args.runs, args.threads, args.json, str(args.gpt2_dir)) == (5, 2, "out.json", "/g")
    assert parser.parse_args(["--json"]).json == "-"  # bare: the JSON is the last line printed
    assert parser.parse_args([]).json is None


def test_json_to_stdout_is_one_line(capsys):
    _harness.write_json("-", {"rows": [{"tool": "x", "seconds": 1.5}]})
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"rows": [{"tool": "x", "seconds": 1.5}]}
