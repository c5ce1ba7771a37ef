"""Long-running commands: the API server (`serve`, `demo`) and the operator."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import socket
import ssl
import threading
import time
from datetime import timedelta
from typing import Any

from costreport.cli.options import LOOPBACK, build_cloud_costs, build_source, label_policy
from costreport.engine.privacy import LabelPolicy
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.sources.billing.reconcile import unwrap
from costreport.sources.billing.service import CloudCosts
from costreport.sources.kubernetes import KubeClient
from costreport.sources.ledger import HybridSource


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
    source = build_source(args)
    memo = kopf.Memo(
        source=source,
        operator_namespace=os.environ.get("POD_NAMESPACE", "default"),
        tick_seconds=args.tick_seconds,
        policy=label_policy(args),
        peering=args.peering,
    )
    hybrid = unwrap(source)
    if isinstance(hybrid, HybridSource):  # --ledger: the operator also closes hours into it
        memo.ledger_store = hybrid.ledger.store
        memo.live = hybrid.live
        memo.backfill_days = args.ledger_backfill_days
        memo.hourly_days = args.ledger_hourly_days
        memo.retention_days = args.ledger_retention
        memo.lifecycle_records = bool(getattr(args, "lifecycle_records", False))
        memo.billing_url = getattr(args, "billing", None)
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
    cloud_costs = build_cloud_costs(args)
    app = create_app(build_source(args), settings, reader, auth, cloud_costs, with_mcp=True)
    if cloud_costs is not None and cloud_costs.url:
        app.cleanup_ctx.append(_refresh_bills(cloud_costs))
    ssl_context = tls_context(getattr(args, "tls_cert", None), getattr(args, "tls_key", None))
    examples = "\n".join(c.format(host=host, port=args.port) for c in CURL_EXAMPLES)
    print(
        f"{banner}serving the {args.source} source on http://{host}:{args.port}; try:\n{examples}",
        flush=True,
    )
    loopback = getattr(args, "loopback_port", None)
    if not loopback:
        # access_log=None: the audit middleware writes the one line per request.
        web.run_app(
            app, host=host, port=args.port, print=None, ssl_context=ssl_context, access_log=None
        )
        return
    check_port("127.0.0.1", loopback)
    admin = create_app(
        build_source(args), settings, reader, None, cloud_costs, loopback_only=True, with_mcp=True
    )
    print(
        f"and on http://127.0.0.1:{loopback} with cluster-wide read access, no token "
        "(reach it with kubectl port-forward)",
        flush=True,
    )
    asyncio.run(
        _serve_sites([(app, host, args.port, ssl_context), (admin, "127.0.0.1", loopback, None)])
    )


async def _serve_sites(sites: list[tuple[Any, str, int, ssl.SSLContext | None]]) -> None:
    """Serve several apps until SIGINT/SIGTERM, then shut them down gracefully."""
    import signal

    from aiohttp import web

    runners = []
    for app, host, port, context in sites:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port, ssl_context=context).start()
        runners.append(runner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def _refresh_bills(cloud_costs: CloudCosts, every_seconds: float = 300.0) -> Any:
    """A cleanup context that reads new or changed bill files now and every 5 minutes."""

    async def refresh_forever() -> None:
        log = logging.getLogger("costreport.billing")
        while True:
            try:
                report = await cloud_costs.refresh()
                if report is not None and (report.ingested or report.failed):
                    log.info(
                        "bills read",
                        extra={"context": {"files": report.ingested, "failed": report.failed}},
                    )
            except SourceUnavailable as error:
                log.warning("bills unavailable", extra={"context": {"reason": error.reason}})
            await asyncio.sleep(every_seconds)

    async def context(app: Any) -> Any:
        task = asyncio.create_task(refresh_forever())
        yield
        task.cancel()

    return context


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
