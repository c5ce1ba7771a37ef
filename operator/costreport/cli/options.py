"""Command-line options: the parser, and the source and label policy they describe."""

from __future__ import annotations

import argparse
import math
import os
from datetime import timedelta
from urllib.parse import urlsplit

from costreport.engine.privacy import LabelPolicy, hashed_keys, parse_allow_list
from costreport.model.cluster import ClusterSource
from costreport.model.errors import InvalidParameter
from costreport.model.pricing import load_pricing
from costreport.sources.billing.reconcile import ReconcilingSource
from costreport.sources.billing.service import CloudCosts
from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import HybridSource, LedgerSource, LedgerStore
from costreport.sources.prometheus import PrometheusConfig, PrometheusSource
from costreport.sources.sample import SampleSource


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """`--api URL` and its token: ask a running costreport (or OpenCost) instead."""
    group = parser.add_argument_group("remote")
    group.add_argument(
        "--api",
        default=os.environ.get("COSTREPORT_API"),
        metavar="URL",
        help="a running costreport or OpenCost API (env COSTREPORT_API); the source options "
        "are then the server's",
    )
    group.add_argument(
        "--token-file",
        help="file with a bearer token for --api (default: env COSTREPORT_TOKEN)",
    )
    add_kube_arguments(group)


def add_kube_arguments(group: argparse._ActionsContainer) -> None:
    """`--kube` and its kubeconfig options (see `cli.kube`)."""
    group.add_argument(
        "--kube",
        action="store_true",
        help="find costreport through the kubeconfig and port-forward to it as you "
        "(your token, so your RBAC)",
    )
    group.add_argument("--kubeconfig", help="kubeconfig for --kube (default: env KUBECONFIG)")
    group.add_argument("--kube-context", help="kubeconfig context for --kube")
    group.add_argument("--kube-namespace", help="costreport's namespace (default: search all)")


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
        "--source",
        choices=["sample", "prometheus", "none"],
        default=os.environ.get("SOURCE"),
        help="where live cluster data comes from (env SOURCE); none: the ledger only "
        "(default: none with --ledger, else sample)",
    )
    group.add_argument(
        "--ledger",
        default=os.environ.get("COSTREPORT_LEDGER"),
        metavar="URL",
        help="the cost ledger: a directory, or s3://, gs://, az:// (env COSTREPORT_LEDGER); "
        "closed hours are read from it, only the rest from the live source",
    )
    group.add_argument(
        "--billing",
        default=os.environ.get("COSTREPORT_BILLING"),
        metavar="URL",
        help="FOCUS bill files (CSV, CSV.gz, Parquet): a directory, or s3://, gs://, az:// "
        "(env COSTREPORT_BILLING); new or changed files are read into the ledger",
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
    group.add_argument(
        "--scrape-interval", type=float, default=60.0, help="kube-state-metrics scrape, seconds"
    )


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
    group.add_argument(
        "--auth",
        choices=["none", "kubernetes"],
        default="none",
        help="kubernetes: bearer tokens checked with TokenReview and SubjectAccessReview",
    )
    group.add_argument(
        "--insecure-allow-unauthenticated",
        action="store_true",
        help="allow --auth none on a non-loopback address (everyone sees every cost)",
    )
    group.add_argument("--token-audience", action="append", default=[], help="TokenReview audience")
    group.add_argument(
        "--loopback-port",
        type=int,
        help="also listen on 127.0.0.1:PORT with cluster-wide read access and no token, for "
        "kubectl port-forward (which needs pods/portforward RBAC): the OpenCost UI and "
        "kubectl-cost, which send no token, then work on a secure install",
    )
    group.add_argument("--metrics-public", action="store_true", help="serve /metrics to anyone")
    group.add_argument("--tls-cert", help="serve HTTPS with this certificate (reloaded on change)")
    group.add_argument("--tls-key", help="private key of --tls-cert")
    group.add_argument(
        "--max-window-days", type=float, default=400.0, help="longest window one request may ask"
    )
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
    """The source the options describe: the live one, behind the ledger when one is given."""
    ledger = getattr(args, "ledger", None)
    if args.source is None:  # a ledger alone serves a fleet; never mix the sample into it
        args.source = "none" if ledger else "sample"
    if args.source == "none":
        if not ledger:
            raise InvalidParameter("source", "none", "sample or prometheus, or give --ledger URL")
        store = LedgerStore(ledger)
        return ReconcilingSource(LedgerSource(store), BillingStore(store))
    live = build_live_source(args)
    if not ledger:
        return live
    store = LedgerStore(ledger)  # bills live in the ledger: costs are reconciled where they exist
    return ReconcilingSource(HybridSource(store, live), BillingStore(store))


def build_cloud_costs(args: argparse.Namespace) -> CloudCosts | None:
    """The bills the options describe: those in the ledger, refreshed from `--billing`."""
    ledger, billing = getattr(args, "ledger", None), getattr(args, "billing", None)
    if billing and not ledger:
        raise InvalidParameter(
            "billing", billing, "used with --ledger URL (bills are kept in the ledger)"
        )
    if not ledger:
        return None
    return CloudCosts(BillingStore(LedgerStore(ledger)), billing)


def build_live_source(args: argparse.Namespace) -> ClusterSource:
    """The live source the options describe (sample or Prometheus)."""
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


async def close_source(source: ClusterSource) -> None:
    """Close a source's connections when it has any (Prometheus)."""
    close = getattr(source, "close", None)
    if close is not None:
        await close()


def query_params(args: argparse.Namespace) -> dict[str, str]:
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
        "costBasis": getattr(args, "cost_basis", None) or "",
    }
    return {k: v for k, v in params.items() if v != ""}


QUERY_EXAMPLES = """examples:
  costreport query --window 7d --aggregate namespace --include-idle --share-idle
  costreport query --window lastweek --aggregate label:team --share-namespaces kube-system
  costreport query --window 30d --step 1d --aggregate controller --format csv > daily.csv
  costreport query --window 24h --filter 'namespace:"team-a"+controllerKind:"deployment"'
"""
ASSETS_EXAMPLES = """examples:
  costreport assets --window 7d --aggregate type
  costreport assets --window yesterday --filter 'assetType:"node"' --format csv
"""
SERVE_EXAMPLES = """examples:
  costreport serve                                   # the sample cluster on 127.0.0.1:9003
  costreport serve --source prometheus --prometheus-url http://prometheus:9090 \\
      --host 0.0.0.0 --auth kubernetes               # in a cluster
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (unless it has none or says it), examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def add_housekeeping_arguments(parser: argparse.ArgumentParser) -> None:
    """How long the ledger keeps hours, and data at all."""
    parser.add_argument(
        "--ledger-hourly-days",
        type=float,
        default=14.0,
        help="hours older than this many days are compacted into days (finest step 1d)",
    )
    parser.add_argument(
        "--ledger-retention",
        type=float,
        default=400.0,
        metavar="DAYS",
        help="partitions older than this many days are dropped",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="costreport",
        description="Kubernetes cost allocation with an OpenCost-compatible API.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, epilog: str | None = None) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=text, description=text, epilog=epilog, formatter_class=_HelpFormatter
        )

    query = command("query", "compute cost allocations", QUERY_EXAMPLES)
    query.add_argument(
        "--window",
        required=True,
        help="today, yesterday, week, lastweek, month, lastmonth, 7d, 24h, 'RFC3339,RFC3339'",
    )
    query.add_argument(
        "--aggregate",
        default="namespace",
        help="comma-separated keys: cluster, node, namespace, controller, controllerKind, pod, "
        "container, service, label:<key>, annotation:<key>, all",
    )
    query.add_argument("--step", help="length of each set, e.g. 1d (default: one set)")
    query.add_argument(
        "--accumulate",
        help="true, false, hour, day, week, weeknow, month, quarter or all (default: false)",
    )
    query.add_argument("--resolution", help="source query resolution, e.g. 1m (default: 1m)")
    query.add_argument(
        "--include-idle", action="store_true", help="add idle (unallocated node cost) rows"
    )
    query.add_argument(
        "--share-idle",
        action="store_true",
        help="spread idle over the rows by cost weight (with --include-idle)",
    )
    query.add_argument(
        "--idle-by-node",
        action="store_true",
        help="compute and share idle per node instead of per cluster",
    )
    query.add_argument(
        "--share-namespaces", help="namespaces whose cost is shared, e.g. kube-system,monitoring"
    )
    query.add_argument("--share-labels", help="labels whose pods' cost is shared, e.g. team:infra")
    query.add_argument("--share-cost", help="fixed monthly shared cost, e.g. 250.00")
    query.add_argument("--share-split", help="weighted (by cost) or even (default: weighted)")
    query.add_argument(
        "--shared-breakdown", action="store_true", help="show where each shared cost came from"
    )
    query.add_argument("--filter", help='v2 filter, e.g. namespace:"kube-system"')
    add_remote_arguments(query)
    query.add_argument(
        "--cost-basis",
        choices=["auto", "list", "reconciled"],
        help="auto (default): reconciled to the bill where the ledger holds one; list prices",
    )
    query.add_argument(
        "--format", choices=["table", "json", "csv"], default="table", help="output format"
    )
    add_source_arguments(query)

    assets = command(
        "assets", "compute asset costs (nodes, disks, load balancers)", ASSETS_EXAMPLES
    )
    assets.add_argument("--window", required=True, help="same forms as query --window")
    assets.add_argument(
        "--aggregate", help="type, cluster, name, category, provider, providerID, label:<key>"
    )
    assets.add_argument("--step", help="length of each set, e.g. 1d (default: one set)")
    assets.add_argument("--accumulate", help="as for query (default: true)")
    assets.add_argument("--filter", help='v2 asset filter, e.g. assetType:"node"')
    assets.add_argument(
        "--cost-basis",
        choices=["auto", "list", "reconciled"],
        help="auto (default): reconciled to the bill where the ledger holds one; list prices",
    )
    assets.add_argument(
        "--format", choices=["table", "json", "csv"], default="table", help="output format"
    )
    add_remote_arguments(assets)
    add_source_arguments(assets)

    demo = command("demo", "print last week's costs of the sample cluster, then serve the API")
    demo.add_argument("--port", type=int, default=9003, help="API port on 127.0.0.1")
    demo.add_argument("--no-serve", action="store_true", help="print the report and exit")
    add_source_arguments(demo)

    serve = command("serve", "serve the OpenCost-compatible API", SERVE_EXAMPLES)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=9003, help="port to listen on")
    serve.add_argument("--no-cors", action="store_true", help="do not allow every origin")
    serve.add_argument("--cache-mb", type=int, default=256, help="response cache bound (MiB)")
    serve.add_argument(
        "--log-format", choices=["auto", "json", "text"], default="auto", help="auto: json in a pod"
    )
    add_api_arguments(serve)
    add_source_arguments(serve)

    mcp = command("mcp", "an MCP server over stdio for local AI clients (tools over the API)")
    add_remote_arguments(mcp)
    add_privacy_arguments(mcp)
    add_source_arguments(mcp)

    budgets = command("budgets", "the cluster's budgets with spend and forecast (KUBECONFIG)")
    budgets.add_argument(
        "--format", choices=["table", "json"], default="table", help="output format"
    )
    add_remote_arguments(budgets)

    export = command("export", "export allocation as FOCUS 1.3 rows (CSV or Parquet)")
    exports = export.add_subparsers(dest="export_command", required=True, metavar="FORMAT")
    focus = exports.add_parser(
        "focus",
        help="one origin charge per node and day, split per pod (FOCUS 1.3)",
        formatter_class=_HelpFormatter,
    )
    focus.add_argument("--window", required=True, help="e.g. lastmonth, 7d, 'RFC3339,RFC3339'")
    focus.add_argument("--format", choices=["csv", "parquet"], default="csv")
    focus.add_argument("--out", help="file to write (default: stdout for csv)")
    focus.add_argument(
        "--cost-basis",
        choices=["auto", "list", "reconciled"],
        default="auto",
        help="auto: reconciled where the ledger holds a bill",
    )
    add_privacy_arguments(focus)
    add_source_arguments(focus)

    ledger = command("ledger", "the cost ledger: status, ingest closed hours, repair a range")
    actions = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status", help="clusters, closed hours and size", formatter_class=_HelpFormatter
    )
    status.add_argument("--ledger", required=True, metavar="URL", help="the ledger")
    ingest = actions.add_parser(
        "ingest",
        help="close every hour of the window that is not in the ledger yet",
        formatter_class=_HelpFormatter,
    )
    ingest.add_argument(
        "--window",
        help="window to close (default: the last --ledger-backfill-days days)",
    )
    ingest.add_argument(
        "--ledger-backfill-days", type=float, default=30.0, help="default range of ingest"
    )
    add_source_arguments(ingest)
    compact = actions.add_parser(
        "compact",
        help="compact hours older than --ledger-hourly-days into days; drop what is older than "
        "--ledger-retention",
        formatter_class=_HelpFormatter,
    )
    compact.add_argument("--ledger", required=True, metavar="URL", help="the ledger")
    add_housekeeping_arguments(compact)
    repair = actions.add_parser(
        "repair",
        help="rewrite every hour of a range from the live source (late data, price changes)",
        formatter_class=_HelpFormatter,
    )
    repair.add_argument("--from", dest="repair_from", required=True, help="RFC3339 or unix")
    repair.add_argument("--to", dest="repair_to", required=True, help="RFC3339 or unix")
    add_source_arguments(repair)

    op = command("operator", "run the CostReport operator (kopf)")
    op.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: the whole cluster",
    )
    op.add_argument("--liveness-port", type=int, default=8080, help="kopf liveness endpoint")
    op.add_argument("--tick-seconds", type=float, default=30.0, help="scheduler tick")
    add_housekeeping_arguments(op)
    op.add_argument(
        "--ledger-backfill-days",
        type=float,
        default=30.0,
        help="with --ledger: on first start, close this many past days (as far as the live "
        "source has data)",
    )
    op.add_argument(
        "--lifecycle-records",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --ledger and --source prometheus: watch pods and record every container's "
        "exact start and end into the ledger, so pods no scrape saw are costed (default: on)",
    )
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
    op.add_argument(
        "--log-format", choices=["auto", "json", "text"], default="auto", help="auto: json in a pod"
    )
    add_privacy_arguments(op)
    add_source_arguments(op)
    return parser


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("costreport")
    except PackageNotFoundError:
        return "unknown"
