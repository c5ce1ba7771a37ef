"""The command line: bad input exits 2 with one line; demo serves what it advertises."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from costreport.cli import main

BIN = Path(sys.executable).parent / "costreport"


def test_bad_parameter_exits_2_with_the_engine_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--window", "7d", "--step", "0"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "costreport: invalid 'step' parameter: '0'; accepted: a positive duration such as "
        "1h, 1d, 30m, 1h30m, 2w\n"
    )


def test_query_table_has_a_totals_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--window", "2d", "--aggregate", "namespace", "--include-idle"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:4] == ["NAME", "CPU", "RAM", "GPU"]
    assert any(line.startswith("TOTAL") for line in out)
    assert any(line.startswith("__idle__") for line in out)


def test_csv_and_json_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--window", "1d", "--aggregate", "namespace", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("windowStart,windowEnd,name,minutes,cpuCores")
    assert main(["assets", "--window", "1d", "--aggregate", "type", "--format", "json"]) == 0
    assert '"Node"' in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_its_curl_examples_and_stops_on_sigterm() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN), "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        while len([line for line in lines if line.startswith("curl")]) < 3:
            line = process.stdout.readline()
            assert line, "demo exited early"
            lines.append(line.strip())
        assert any(line.startswith("__idle__") for line in lines)
        urls = [line.split("'")[1] for line in lines if line.startswith("curl")]
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        assert response.status == 200
                        assert b'"code":200' in response.read()
                    break
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_refuses_no_auth_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--auth", "none"]) == 2
    assert capsys.readouterr().err == (
        "costreport: invalid 'auth' parameter: 'none'; accepted: kubernetes, or none only on a "
        "loopback address (not 0.0.0.0) unless --insecure-allow-unauthenticated is given\n"
    )


def test_utc_offset_moves_calendar_windows(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import timedelta

    from costreport.cli import parse_utc_offset

    assert parse_utc_offset("+05:30") == timedelta(hours=5, minutes=30)
    assert parse_utc_offset("-07:00") == -timedelta(hours=7)
    assert main(["query", "--window", "today", "--format", "csv", "--utc-offset=-07:00"]) == 0
    first_row = capsys.readouterr().out.splitlines()[1]
    assert first_row.split(",")[0].endswith("T00:00:00-07:00")


def test_a_deeply_nested_filter_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    deep = "(" * 495 + 'namespace:"a"' + ")" * 495
    assert main(["query", "--window", "1d", "--filter", deep]) == 2
    err = capsys.readouterr().err
    assert err.startswith("costreport: invalid 'filter' parameter: '((((")
    assert err.endswith("; parentheses nested deeper than 32 levels at position 32\n")
