"""The `costreport` command: query allocations and assets, serve the API, run the operator."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import logging
import math
import os
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson

from costreport.engine.assets import parse_asset_aggregate
from costreport.engine.filters import parse_filter
from costreport.engine.params import QueryLimits, check_limits, parse_allocation_query
from costreport.engine.privacy import LabelPolicy, hashed_keys, parse_allow_list
from costreport.model.allocation import NUMERIC_FIELDS, AllocationSetRange
from costreport.model.asset import AssetSet
from costreport.model.cluster import ClusterSource
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.model.pricing import load_pricing
from costreport.model.query import AssetQuery
from costreport.model.window import parse_accumulate, parse_duration, parse_window
from costreport.sources.kubernetes import KubeClient
from costreport.sources.prometheus import PrometheusConfig, PrometheusSource
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations, query_assets

TABLE_COLUMNS = (
    ("CPU", "cpuCost"),
    ("RAM", "ramCost"),
    ("GPU", "gpuCost"),
    ("PV", "pvCost"),
    ("NETWORK", "networkCost"),
    ("LB", "loadBalancerCost"),
    ("SHARED", "sharedCost"),
    ("TOTAL", "totalCost"),
)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose and configure the cluster-data source (shared by every command)."""
    parser.add_argument(
        "--utc-offset",
        type=parse_utc_offset,
        default=timedelta(0),
        help="fixed zone of calendar windows, e.g. --utc-offset=-07:00 (default UTC)",
    )
    group = parser.add_argument_group("source")
    group.add_argument(
        "--source", choices=["sample", "prometheus"], default=os.environ.get("SOURCE", "sample")
    )
    group.add_argument("--cluster", default="sample-cluster", help="cluster id of the sample")
    group.add_argument("--scale", type=float, default=1.0, help="sample pod-count multiplier")
    group.add_argument("--seed", type=int, default=42, help="sample random seed")
    group.add_argument("--pricing", help="pricing config in OpenCost's default.json format")
    group.add_argument(
        "--prometheus-url",
        default=os.environ.get("PROMETHEUS_URL"),
        help="Prometheus HTTP API base URL (env PROMETHEUS_URL)",
    )
    group.add_argument("--cluster-id", default=os.environ.get("CLUSTER_ID"), help="cluster id")
    group.add_argument("--cluster-label", default="cluster_id", help="cluster label in series")
    group.add_argument("--prometheus-token-file", help="file holding a bearer token for Prometheus")
    group.add_argument(
        "--prometheus-header",
        action="append",
        default=[],
        help="extra header for Prometheus, e.g. X-Scope-OrgID=tenant (repeatable)",
    )
    group.add_argument("--prometheus-ca", help="CA bundle for Prometheus' TLS certificate")
    group.add_argument(
        "--prometheus-basic-auth-file", help="file holding user:password for Prometheus"
    )
    group.add_argument("--prometheus-timeout", type=float, default=60.0, help="seconds per query")
    group.add_argument("--scrape-interval", type=float, default=60.0, help="seconds")


def parse_utc_offset(text: str) -> timedelta:
    """`+05:30` / `-07:00` / `Z` → a timedelta (argparse type)."""
    value = text.strip()
    if value in ("Z", "UTC", ""):
        return timedelta(0)
    sign = -1 if value.startswith("-") else 1
    hours, _, minutes = value.lstrip("+-").partition(":")
    try:
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an offset like +05:30") from None
    if offset > timedelta(hours=14):
        raise argparse.ArgumentTypeError(f"{text!r} is beyond ±14:00")
    return sign * offset


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """Security and limits of the API server."""
    group = parser.add_argument_group("security")
    group.add_argument("--auth", choices=["none", "kubernetes"], default="none")
    group.add_argument(
        "--insecure-allow-unauthenticated",
        action="store_true",
        help="allow --auth none on a non-loopback address (everyone sees every cost)",
    )
    group.add_argument("--token-audience", action="append", default=[], help="TokenReview audience")
    group.add_argument("--metrics-public", action="store_true", help="serve /metrics to anyone")
    group.add_argument("--tls-cert", help="serve HTTPS with this certificate (reloaded on change)")
    group.add_argument("--tls-key", help="private key of --tls-cert")
    group.add_argument("--max-window-days", type=float, default=400.0)
    group.add_argument("--max-sets", type=int, default=2000, help="step sets per request")
    group.add_argument("--rate-limit", type=float, default=20.0, help="requests/s per client")
    group.add_argument("--client-concurrency", type=int, default=8, help="per client")
    group.add_argument("--request-timeout", type=float, default=60.0, help="seconds")
    add_privacy_arguments(parser)


def add_privacy_arguments(parser: argparse.ArgumentParser) -> None:
    """Label and annotation privacy (API, status and ConfigMaps)."""
    group = parser.add_argument_group("privacy")
    group.add_argument(
        "--label-allow-list",
        help="label/annotation keys that may appear (default: app, team, env, component, "
        "app.kubernetes.io/*)",
    )
    group.add_argument("--hash-label", action="append", default=[], help="hash this key's values")
    group.add_argument("--hash-key-file", help="secret for --hash-label (HMAC-SHA256)")


def label_policy(args: argparse.Namespace) -> LabelPolicy:
    """The privacy policy the options describe."""
    secret = b""
    if args.hash_label:
        if not args.hash_key_file:
            raise InvalidParameter("hash-key-file", "", "a file holding the hashing secret")
        with open(args.hash_key_file, "rb") as handle:
            secret = handle.read().strip()
    return LabelPolicy(
        allowed=parse_allow_list(args.label_allow_list),
        hashed=hashed_keys(args.hash_label),
        secret=secret,
    )


LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_SCALE = 400.0
"""Largest sample-cluster scale accepted (about 50,000 pods)."""


def build_source(args: argparse.Namespace) -> ClusterSource:
    """The source the command-line options describe."""
    pricing = load_pricing(args.pricing)
    if args.source == "prometheus":
        if not args.prometheus_url:
            raise InvalidParameter(
                "prometheus-url", "", "the Prometheus base URL (or env PROMETHEUS_URL)"
            )
        parsed = urlsplit(args.prometheus_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidParameter(
                "prometheus-url",
                args.prometheus_url,
                "an http:// or https:// URL with a host, e.g. http://prometheus:9090",
            )
        token = None
        if args.prometheus_token_file:
            with open(args.prometheus_token_file) as handle:
                token = handle.read().strip()
        basic = None
        if args.prometheus_basic_auth_file:
            with open(args.prometheus_basic_auth_file) as handle:
                user, sep, password = handle.read().strip().partition(":")
            if not sep:
                raise InvalidParameter(
                    "prometheus-basic-auth-file", args.prometheus_basic_auth_file, "user:password"
                )
            basic = (user, password)
        headers = {}
        for item in args.prometheus_header:
            key, sep, value = item.partition("=")
            if not sep:
                raise InvalidParameter("prometheus-header", item, "Name=value")
            headers[key.strip()] = value.strip()
        config = PrometheusConfig(
            url=args.prometheus_url,
            cluster_label=args.cluster_label,
            default_cluster=args.cluster_id or "default-cluster",
            bearer_token=token,
            basic_auth=basic,
            headers=headers,
            ca_file=args.prometheus_ca,
            timeout_seconds=args.prometheus_timeout,
            scrape_interval_seconds=args.scrape_interval,
        )
        return PrometheusSource(config, pricing)
    cluster = args.cluster_id or args.cluster
    if not (math.isfinite(args.scale) and 0 < args.scale <= MAX_SCALE):
        raise InvalidParameter(
            "scale", args.scale, f"a number > 0 and ≤ {MAX_SCALE:g} (1 ≈ 136 pods, 80 ≈ 10,000)"
        )
    if args.seed < 0:
        raise InvalidParameter("seed", args.seed, "an integer ≥ 0")
    return SampleSource(cluster=cluster, scale=args.scale, seed=args.seed, pricing=pricing)


def _query_params(args: argparse.Namespace) -> dict[str, str]:
    params = {
        "window": args.window,
        "aggregate": args.aggregate,
        "step": args.step or "",
        "resolution": args.resolution or "",
        "accumulate": args.accumulate or "",
        "includeIdle": str(args.include_idle).lower(),
        "shareIdle": str(args.share_idle).lower(),
        "idleByNode": str(args.idle_by_node).lower(),
        "shareNamespaces": args.share_namespaces or "",
        "shareLabels": args.share_labels or "",
        "shareCost": args.share_cost or "",
        "shareSplit": args.share_split or "",
        "includeSharedCostBreakdown": str(args.shared_breakdown).lower(),
        "filter": args.filter or "",
    }
    return {k: v for k, v in params.items() if v != ""}


def render_table(result: AllocationSetRange) -> str:
    """Rows sorted by total cost with a totals line, one block per set (like `kubectl cost`)."""
    out: list[str] = []
    currency = str(result.meta.get("currency", "USD"))
    for s in result.sets:
        window = s.window.to_json()
        out.append(f"window {window['start']} → {window['end']} ({currency})")
        order = sorted(range(len(s)), key=lambda i: (-s.columns["totalCost"][i], s.names[i]))
        names = [s.names[i] or "(all)" for i in order]
        width = max([len(n) for n in names] + [len("NAME"), len("TOTAL")])
        header = "NAME".ljust(width) + "".join(f"{h:>12}" for h, _ in TABLE_COLUMNS) + "  EFF"
        out.append(header)
        for name, i in zip(names, order, strict=True):
            cells = "".join(f"{s.columns[f][i]:>12.2f}" for _, f in TABLE_COLUMNS)
            eff = s.columns["totalEfficiency"][i]
            out.append(f"{name.ljust(width)}{cells}  {eff:>4.0%}")
        totals = "".join(f"{s.total(f):>12.2f}" for _, f in TABLE_COLUMNS)
        out.append("-" * len(header))
        out.append("TOTAL".ljust(width) + totals)
        out.append("")
    idle = result.meta.get("idle", {})
    sharing = result.meta.get("sharing", {})
    out.append(f"idle: {idle}; sharing: {sharing}")
    return "\n".join(out)


def render_csv(result: AllocationSetRange) -> str:
    """One CSV line per (set, row) with every numeric field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["windowStart", "windowEnd", "name", *NUMERIC_FIELDS])
    for s in result.sets:
        window = s.window.to_json()
        for name, row in s.to_json().items():
            writer.writerow(
                [window["start"], window["end"], name, *(row[f] for f in NUMERIC_FIELDS)]
            )
    return buffer.getvalue()


def render_assets_table(sets: Sequence[AssetSet]) -> str:
    """Assets sorted by total cost per set, with a totals line."""
    out = []
    for s in sets:
        window = s.window.to_json()
        out.append(f"window {window['start']} → {window['end']}")
        items = sorted(s.assets.items(), key=lambda kv: (-kv[1].total_cost, kv[0]))
        width = max([len(k) for k, _ in items] + [4])
        out.append("ASSET".ljust(width) + f"{'TYPE':>20}{'HOURS':>10}{'TOTAL':>12}")
        for key, asset in items:
            out.append(
                f"{key.ljust(width)}{asset.type:>20}{asset.minutes / 60:>10.1f}"
                f"{asset.total_cost:>12.2f}"
            )
        out.append("TOTAL".ljust(width) + f"{'':>30}{s.total_cost():>12.2f}")
        out.append("")
    return "\n".join(out)


def _now() -> datetime:
    return datetime.now(tz=UTC)


async def close_source(source: ClusterSource) -> None:
    """Close a source's connections when it has any (Prometheus)."""
    close = getattr(source, "close", None)
    if close is not None:
        await close()


def check_port(host: str, port: int) -> None:
    """Refuse a port out of range or already in use before any output is printed."""
    if not 0 < port <= 65535:
        raise InvalidParameter("port", port, "a TCP port from 1 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise InvalidParameter(
                "port", port, f"a free port on {host} ({error.strerror or error})"
            ) from None


async def run_query(args: argparse.Namespace) -> str:
    """The `query` command's output."""
    params = _query_params(args)
    query = parse_allocation_query(params, now=_now(), utc_offset=args.utc_offset)
    check_limits(query, params, QueryLimits())
    source = build_source(args)
    try:
        result = await query_allocations(source, query)
    finally:
        await close_source(source)
    if args.format == "json":
        body = {"code": 200, "status": "success", "data": result.to_json(), "meta": result.meta}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    if args.format == "csv":
        return render_csv(result)
    return render_table(result)


async def run_assets(args: argparse.Namespace) -> str:
    """The `assets` command's output."""
    parse_filter(args.filter or "", kind="asset")
    query = AssetQuery(
        window=parse_window(args.window, now=_now(), utc_offset=args.utc_offset),
        step=parse_duration(args.step, parameter="step") if args.step else None,
        accumulate=parse_accumulate(args.accumulate or "true"),
        aggregate=parse_asset_aggregate(args.aggregate),
        filter=args.filter or "",
    )
    check_limits(query, {"window": args.window, "step": args.step or ""}, QueryLimits())
    source = build_source(args)
    try:
        sets = await query_assets(source, query)
    finally:
        await close_source(source)
    if args.format == "json":
        data: object = sets[0].to_json() if len(sets) == 1 else [s.to_json() for s in sets]
        body = {"code": 200, "status": "success", "data": data}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    return render_assets_table(sets)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="costreport", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    query = commands.add_parser("query", help="compute cost allocations")
    query.add_argument("--window", required=True, help="e.g. 7d, yesterday, lastweek")
    query.add_argument("--aggregate", default="namespace", help="e.g. namespace,label:team")
    query.add_argument("--step", help="set length, e.g. 1d")
    query.add_argument("--accumulate", help="true|false|hour|day|week|month|all")
    query.add_argument("--resolution", help="source query resolution, e.g. 1m")
    query.add_argument("--include-idle", action="store_true")
    query.add_argument("--share-idle", action="store_true")
    query.add_argument("--idle-by-node", action="store_true")
    query.add_argument("--share-namespaces", help="e.g. kube-system,monitoring")
    query.add_argument("--share-labels", help="e.g. team:platform")
    query.add_argument("--share-cost", help="fixed monthly shared cost")
    query.add_argument("--share-split", help="weighted|even")
    query.add_argument("--shared-breakdown", action="store_true")
    query.add_argument("--filter", help='v2 filter, e.g. namespace:"kube-system"')
    query.add_argument("--format", choices=["table", "json", "csv"], default="table")
    add_source_arguments(query)

    assets = commands.add_parser("assets", help="compute asset costs")
    assets.add_argument("--window", required=True)
    assets.add_argument("--aggregate", help="e.g. type, cluster")
    assets.add_argument("--step")
    assets.add_argument("--accumulate")
    assets.add_argument("--filter")
    assets.add_argument("--format", choices=["table", "json"], default="table")
    add_source_arguments(assets)

    demo = commands.add_parser(
        "demo", help="print last week's costs of the sample cluster, then serve the API"
    )
    demo.add_argument("--port", type=int, default=9003)
    demo.add_argument("--no-serve", action="store_true", help="print the report and exit")
    add_source_arguments(demo)

    serve = commands.add_parser("serve", help="serve the OpenCost-compatible API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9003)
    serve.add_argument("--no-cors", action="store_true", help="do not allow every origin")
    serve.add_argument("--cache-mb", type=int, default=256, help="response cache bound")
    serve.add_argument("--log-format", choices=["auto", "json", "text"], default="auto")
    add_api_arguments(serve)
    add_source_arguments(serve)

    op = commands.add_parser("operator", help="run the CostReport operator (kopf)")
    op.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: the whole cluster",
    )
    op.add_argument("--liveness-port", type=int, default=8080)
    op.add_argument("--tick-seconds", type=float, default=30.0, help="scheduler tick")
    op.add_argument(
        "--peering",
        metavar="NAME",
        help="kopf peering object (ClusterKopfPeering) for more than one replica; "
        "default: standalone",
    )
    op.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority (default: random, so replicas never tie)",
    )
    op.add_argument("--log-format", choices=["auto", "json", "text"], default="auto")
    add_privacy_arguments(op)
    add_source_arguments(op)
    return parser


def run_operator(args: argparse.Namespace) -> None:
    """Run kopf with the CostReport handlers until SIGTERM."""
    import kopf

    import costreport.controller.handlers  # noqa: F401  (registers the handlers)
    from costreport.logs import configure_logging

    configure_logging(args.log_format)
    if kubernetes_reader() is None:
        raise SourceUnavailable(
            "no Kubernetes cluster: the operator runs in a pod (service account) or with "
            "KUBECONFIG set to a reachable cluster"
        )
    memo = kopf.Memo(
        source=build_source(args),
        operator_namespace=os.environ.get("POD_NAMESPACE", "default"),
        tick_seconds=args.tick_seconds,
        policy=label_policy(args),
    )
    asyncio.run(
        kopf.operator(
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            standalone=not args.peering,
            peering_name=args.peering,
            priority=args.priority if args.priority is not None else random.randint(1, 10**6),
            liveness_endpoint=f"http://0.0.0.0:{args.liveness_port}/healthz",
            memo=memo,
        )
    )


CURL_EXAMPLES = (
    "curl -s 'http://{host}:{port}/allocation/compute?window=7d&aggregate=namespace"
    "&includeIdle=true&accumulate=true'",
    "curl -s 'http://{host}:{port}/model/allocation/compute?window=7d&aggregate=controller"
    "&step=1d&filter=namespace%3A%22team-a%22'",
    "curl -s 'http://{host}:{port}/assets?window=7d&aggregate=type'",
)


def kubernetes_reader() -> KubeClient | None:
    """A Kubernetes client in a pod (service account) or with KUBECONFIG set, else None."""
    import kopf

    settings = kopf.OperatorSettings()
    info = None
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        info = kopf.login_with_service_account(settings=settings)
    elif os.environ.get("KUBECONFIG"):
        info = kopf.login_with_kubeconfig(settings=settings)
    return KubeClient.from_connection(info) if info is not None else None


def serve(args: argparse.Namespace, banner: str = "") -> None:
    """Run the API until SIGINT/SIGTERM (aiohttp shuts down gracefully on both)."""
    from aiohttp import web

    from costreport.api.app import ApiSettings, create_app
    from costreport.api.auth import KubernetesAuth
    from costreport.logs import configure_logging

    configure_logging(getattr(args, "log_format", "auto"))
    host = getattr(args, "host", "127.0.0.1")
    check_port(host, args.port)
    auth_mode = getattr(args, "auth", "none")
    if auth_mode == "none" and host not in LOOPBACK:
        if not getattr(args, "insecure_allow_unauthenticated", False):
            raise InvalidParameter(
                "auth",
                "none",
                f"kubernetes, or none only on a loopback address (not {host}) unless "
                "--insecure-allow-unauthenticated is given",
            )
        logging.getLogger("costreport.api").warning(
            "serving WITHOUT authentication on a non-loopback address: anyone who can reach "
            "it reads every namespace's costs"
        )
    settings = ApiSettings(
        cors=not getattr(args, "no_cors", False),
        cache_bytes=getattr(args, "cache_mb", 256) * 1024 * 1024,
        operator_namespace=os.environ.get("POD_NAMESPACE", "default"),
        utc_offset=getattr(args, "utc_offset", timedelta(0)),
        policy=label_policy(args) if hasattr(args, "label_allow_list") else LabelPolicy(),
        metrics_public=getattr(args, "metrics_public", False),
        max_window_days=getattr(args, "max_window_days", 400.0),
        max_sets=getattr(args, "max_sets", 2000),
        rate_per_second=getattr(args, "rate_limit", 20.0),
        client_concurrency=getattr(args, "client_concurrency", 8),
        request_timeout_seconds=getattr(args, "request_timeout", 60.0),
    )
    reader = kubernetes_reader()
    auth = None
    if auth_mode == "kubernetes":
        if reader is None:
            raise InvalidParameter("auth", "kubernetes", "none outside a cluster (no API server)")
        auth = KubernetesAuth(reader, tuple(getattr(args, "token_audience", [])))
    app = create_app(build_source(args), settings, reader, auth)
    ssl_context = tls_context(getattr(args, "tls_cert", None), getattr(args, "tls_key", None))
    examples = "\n".join(c.format(host=host, port=args.port) for c in CURL_EXAMPLES)
    print(
        f"{banner}serving the {args.source} source on http://{host}:{args.port}; try:\n{examples}",
        flush=True,
    )
    web.run_app(app, host=host, port=args.port, print=None, ssl_context=ssl_context)


def tls_context(
    cert: str | None, key: str | None, check_every: float = 30.0
) -> ssl.SSLContext | None:
    """An SSL context that reloads the certificate when the files change."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise InvalidParameter("tls-cert", cert or key or "", "both --tls-cert and --tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    stamp = [os.stat(cert).st_mtime, os.stat(key).st_mtime]

    def reload() -> None:
        while True:
            time.sleep(check_every)
            try:
                now = [os.stat(cert).st_mtime, os.stat(key).st_mtime]
                if now != stamp:
                    context.load_cert_chain(cert, key)
                    stamp[:] = now
                    logging.getLogger("costreport.api").info("TLS certificate reloaded")
            except (OSError, ssl.SSLError):
                logging.getLogger("costreport.api").exception("TLS certificate reload failed")

    threading.Thread(target=reload, name="tls-reload", daemon=True).start()
    return context


async def run_demo(args: argparse.Namespace) -> str:
    """The main job on the embedded sample cluster: last week's costs by namespace."""
    args.window, args.aggregate, args.format = "7d", "namespace", "table"
    for name in ("step", "accumulate", "resolution", "share_namespaces", "share_labels"):
        setattr(args, name, None)
    args.share_cost = args.share_split = args.filter = None
    args.include_idle, args.share_idle, args.idle_by_node = True, False, False
    args.shared_breakdown = False
    return await run_query(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 2 with one clear line for bad input, 3 when the source fails.

    No traceback reaches the terminal: an unexpected error is one line (exit 1), and the
    traceback is printed only with COSTREPORT_DEBUG=1.
    """
    args = build_parser().parse_args(argv)
    runners = {"query": run_query, "assets": run_assets, "demo": run_demo}
    try:
        if args.command == "serve":
            serve(args)
            return 0
        if args.command == "operator":
            run_operator(args)
            return 0
        if args.command == "demo" and not args.no_serve:
            check_port(getattr(args, "host", "127.0.0.1"), args.port)
        print(asyncio.run(runners[args.command](args)), flush=True)
        if args.command == "demo" and not args.no_serve:
            serve(args)
    except InvalidParameter as error:
        print(f"costreport: {error.message}", file=sys.stderr)
        return 2
    except SourceUnavailable as error:
        print(f"costreport: source unavailable: {error.reason}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        print(
            f"costreport: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 2
    except Exception as error:
        if os.environ.get("COSTREPORT_DEBUG") == "1":
            raise
        print(
            f"costreport: internal error: {type(error).__name__}: {error} "
            "(COSTREPORT_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
