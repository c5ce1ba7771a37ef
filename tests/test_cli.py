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
from tests.ports import free_port

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


def test_demo_serves_its_curl_examples_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN), "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines = []
        while len([line for line in lines if line.startswith("curl")]) < 3:
            line = process.stdout.readline()
            assert line, "demo exited early"
            lines.append(line.strip())
        assert any(line.startswith("__idle__") for line in lines)
        # The demo keeps its ledger under the working directory: a week of closed hours.
        assert any(
            line.startswith("ledger .costreport/ledger: ") and "closed hours" in line
            for line in lines
        )
        assert list((tmp_path / ".costreport" / "ledger" / "_commits").iterdir())
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

    from costreport.cli.options import parse_utc_offset

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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "invalid 'seed' parameter: -1; accepted: an integer ≥ 0"),
        (
            ["--scale", "0"],
            "invalid 'scale' parameter: 0.0; accepted: a number > 0 and ≤ 400 "
            "(1 ≈ 136 pods, 80 ≈ 10,000)",
        ),
        (
            ["--scale", "-1"],
            "invalid 'scale' parameter: -1.0; accepted: a number > 0 and ≤ 400 "
            "(1 ≈ 136 pods, 80 ≈ 10,000)",
        ),
        (
            ["--source", "prometheus", "--prometheus-url", "notaurl"],
            "invalid 'prometheus-url' parameter: 'notaurl'; accepted: an http:// or https:// "
            "URL with a host, e.g. http://prometheus:9090",
        ),
    ],
)
def test_bad_source_options_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "--window", "1d", *argv]) == 2
    assert capsys.readouterr().err == f"costreport: {message}\n"


def test_a_port_out_of_range_or_in_use_exits_2_before_any_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--port", "99999"]) == 2
    assert capsys.readouterr().err == (
        "costreport: invalid 'port' parameter: 99999; accepted: a TCP port from 1 to 65535\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
        captured = capsys.readouterr()
    assert captured.out == ""  # the demo's table is not printed before failing
    assert captured.err == (
        f"costreport: invalid 'port' parameter: {port}; accepted: a free port on 127.0.0.1 "
        "(Address already in use)\n"
    )


def test_the_operator_without_a_cluster_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["operator"]) == 3
    assert capsys.readouterr().err == (
        "costreport: source unavailable: no Kubernetes cluster: the operator runs in a pod "
        "(service account) or with KUBECONFIG set to a reachable cluster\n"
    )


def test_a_closed_pipe_is_not_a_traceback() -> None:
    shell = f"{BIN} query --window 7d --aggregate pod --scale 4 | head -1"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("window ")
    assert done.stderr == ""


def test_a_down_prometheus_is_exit_3_without_unclosed_session_warnings() -> None:
    argv = [str(BIN), "query", "--window", "1h", "--source", "prometheus"]
    argv += ["--prometheus-url", f"http://127.0.0.1:{free_port()}", "--prometheus-timeout", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stderr.startswith("costreport: source unavailable: prometheus unavailable")
    assert "Unclosed" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_the_crd_writer_has_arguments_and_a_check(tmp_path: Path) -> None:
    crd = [sys.executable, "-m", "costreport.controller.crd"]
    helped = subprocess.run([*crd, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert helped.returncode == 0 and "--check DIR" in helped.stdout
    bare = subprocess.run(crd, capture_output=True, text=True, cwd=tmp_path)
    assert bare.returncode == 2 and "give --out DIR" in bare.stderr
    assert list(tmp_path.iterdir()) == []  # neither call wrote anything
    assert subprocess.run([*crd, "--check", str(tmp_path)], capture_output=True).returncode == 1
    assert subprocess.run([*crd, "--out", str(tmp_path / "out")]).returncode == 0
    assert subprocess.run([*crd, "--check", str(tmp_path / "out")]).returncode == 0
    root = Path(__file__).resolve().parents[1]
    committed = [
        *crd,
        "--check",
        str(root / "crds"),
        "--check",
        str(root / "charts/costreport/crds"),
    ]
    assert subprocess.run(committed).returncode == 0


def test_the_cli_applies_the_apis_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--window", "10000d"]) == 2
    assert capsys.readouterr().err == (
        "costreport: invalid 'window' parameter: '10000d'; accepted: a window of at most 400 days\n"
    )
    assert main(["assets", "--window", "401d"]) == 2
    assert "a window of at most 400 days" in capsys.readouterr().err


def test_the_table_declares_idle_sharing_and_totals_every_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["query", "--window", "2d", "--step", "1d", "--include-idle"]
    assert main([*argv, "--share-namespaces", "kube-system"]) == 0
    out = capsys.readouterr().out.splitlines()
    totals = [line for line in out if line.startswith("TOTAL")]
    assert len(totals) == 2 and all(line.rstrip().endswith("%") for line in totals)
    grand = next(line for line in out if line.startswith("ALL 2 SETS"))
    per_set = [float(line.split()[-2]) for line in totals]
    assert float(grand.split()[-1]) == pytest.approx(sum(per_set), abs=0.011)
    assert out[-1] == (
        "idle: separate · shared costs: namespaces=kube-system; split=weighted · costs: list prices"
    )
    assert "{" not in "\n".join(out)  # no raw Python dicts


def test_every_option_has_help_and_defaults_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from costreport.cli.options import build_parser

    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [
        f"{name} {action.option_strings[0]}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.option_strings and not action.help
    ]
    assert missing == []
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    text = capsys.readouterr().out
    import re

    assert re.search(r"\(default:\s+namespace\)", text) and "(default: None)" not in text
    assert "examples:\n  costreport query --window 7d" in text
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("costreport 0.")


def test_an_open_window_header_says_where_the_data_stops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["query", "--window", "today", "--aggregate", "namespace"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "(data so far; the window ends " in header and header.endswith("T00:00:00Z) (USD)")


def test_serve_logs_one_line_per_request() -> None:
    port = free_port()
    argv = [str(BIN), "serve", "--port", str(port), "--log-format", "text"]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.3)
        urllib.request.urlopen(f"http://127.0.0.1:{port}/allocation?window=1d", timeout=60).read()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    lines = [line for line in err.splitlines() if "/allocation" in line]
    assert len(lines) == 1 and "costreport.audit: request" in lines[0]


def test_a_ledger_alone_is_the_source_unless_a_live_one_is_named(tmp_path: Path) -> None:
    import argparse

    from costreport.cli.options import build_source
    from costreport.sources.billing.reconcile import ReconcilingSource
    from costreport.sources.ledger import HybridSource, LedgerSource
    from costreport.sources.sample import SampleSource

    def source(*argv: str) -> object:
        parser = argparse.ArgumentParser()
        from costreport.cli.options import add_source_arguments

        add_source_arguments(parser)
        return build_source(parser.parse_args(list(argv)))

    ledger = str(tmp_path / "ledger")
    fleet = source("--ledger", ledger)  # a fleet: no sample mixed in; bills reconcile it
    assert isinstance(fleet, ReconcilingSource) and isinstance(fleet.inner, LedgerSource)
    hybrid = source("--ledger", ledger, "--source", "sample")
    assert isinstance(hybrid, ReconcilingSource) and isinstance(hybrid.inner, HybridSource)
    assert isinstance(source(), SampleSource)
