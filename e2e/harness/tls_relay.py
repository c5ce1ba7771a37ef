"""TLS in front of core_proxy.py, so `e2e/` also runs with a kubeconfig as real clusters have
them: an https server and its CA as `certificate-authority-data` (start.sh writes it as
`kubeconfig-tls`). Every byte is relayed as it is, upgrades (port-forwards) included."""

from __future__ import annotations

import asyncio
import os
import ssl

UPSTREAM = int(os.environ.get("HARNESS_PORT", "27443"))
PORT = int(os.environ.get("HARNESS_TLS_PORT", "27444"))


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def main() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.environ["HARNESS_TLS_CERT"], os.environ["HARNESS_TLS_KEY"])
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, ssl=context)
    print("tls relay up", flush=True)
    await server.serve_forever()


asyncio.run(main())
