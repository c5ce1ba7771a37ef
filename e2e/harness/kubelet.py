"""The kubelet's half of `pods/NAME/portforward`, emulated: a pod's port P is this host's port P.

The API server hands a port-forward to the pod's kubelet, which this harness has none of.
Clients reach it in one of two protocols, and both are spoken here:

* **WebSocket**, `v4.channel.k8s.io` (kr8s, so `costreport --kube`): a GET upgrade; for each
  port asked for in `?ports=`, channel 2i carries data and 2i+1 errors, and each channel's
  first message is the port as two little-endian bytes.
* **SPDY/3.1**, `portforward.k8s.io` (client-go's `portforward` package, so kubectl-cost's
  default mode): a POST upgrade, then SPDY frames; each forwarded connection is a pair of
  streams the client opens with the headers `streamType` (`error` or `data`), `port` and
  `requestID`; the server replies to each, copies the data stream to and from the pod's port,
  writes anything that went wrong on the error stream, and ends both with FIN.

SPDY's header blocks are zlib streams primed with the dictionary of the SPDY/3 draft; it is
read from the spdystream source that build.sh unpacks (`HARNESS_SPDY_DICTIONARY`) rather than
copied here. spdystream implements no flow control, so neither does this.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

HOST = "127.0.0.1"
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9,
)  # fmt: skip
FIN = 0x01
CHUNK = 32 * 1024


def spdy_dictionary() -> bytes:
    """The SPDY/3 header dictionary, parsed from spdystream's `dictionary.go`."""
    path = Path(os.environ.get("HARNESS_SPDY_DICTIONARY", "dictionary.go"))
    text = path.read_text()
    body = text[text.index("[]byte{") : text.index("}", text.index("[]byte{"))]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-fA-F]{2})", body))


def is_spdy_upgrade(headers: Any) -> bool:
    return str(headers.get("Upgrade", "")).lower() == "spdy/3.1"


# --- WebSocket (kr8s) ---------------------------------------------------------------------


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Forward each `?ports=` port over `v4.channel.k8s.io` (channel 2i data, 2i+1 errors)."""
    asked = request.query.getall("ports", [])  # ?ports=1,2 or ?ports=1&ports=2
    ports = [int(port) for value in asked for port in value.split(",") if port]
    ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io",))
    await ws.prepare(request)
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[None]] = []

    async def pump(index: int, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(CHUNK):
            await ws.send_bytes(bytes([2 * index]) + data)
        await ws.close()

    for index, port in enumerate(ports):
        header = struct.pack("<H", port)
        await ws.send_bytes(bytes([2 * index]) + header)
        await ws.send_bytes(bytes([2 * index + 1]) + header)
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as error:
            message = f"error forwarding port {port} to pod: {error}".encode()
            await ws.send_bytes(bytes([2 * index + 1]) + message)
            continue
        writers[2 * index] = writer
        pumps.append(asyncio.create_task(pump(index, reader)))
    async for message in ws:
        if message.type == WSMsgType.BINARY and message.data[:1]:
            target = writers.get(message.data[0])
            if target is not None:
                target.write(message.data[1:])
                await target.drain()
    for task in pumps:
        task.cancel()
    for writer in writers.values():
        writer.close()
    return ws


# --- SPDY/3.1 (client-go) -------------------------------------------------------------------


class _Feed:
    """What aiohttp's protocol hands an upgraded connection's bytes to (`set_parser`)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class SpdySession:
    """One upgraded connection: SPDY frames in, pod connections out."""

    def __init__(self, transport: asyncio.BaseTransport, dictionary: bytes) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport
        self.inflate = zlib.decompressobj(zdict=dictionary)
        self.deflate = zlib.compressobj(zdict=dictionary)
        self.pairs: dict[str, dict[str, int]] = {}  # requestID → {"error": id, "data": id}
        self.ports: dict[str, int] = {}
        self.pod: dict[int, asyncio.StreamWriter] = {}  # data stream id → pod connection
        self.early: dict[int, list[tuple[bytes, int]]] = {}  # data that beat the connection
        self.finished: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def control(self, kind: int, flags: int, payload: bytes) -> None:
        head = struct.pack(">HHI", 0x8003, kind, (flags << 24) | len(payload))
        self.transport.write(head + payload)

    def data(self, stream: int, payload: bytes, flags: int = 0) -> None:
        if stream in self.finished:
            return
        if flags & FIN:
            self.finished.add(stream)
        head = struct.pack(">II", stream & 0x7FFFFFFF, (flags << 24) | len(payload))
        self.transport.write(head + payload)

    def headers(self, block: bytes) -> dict[str, str]:
        raw = self.inflate.decompress(block)
        (count,) = struct.unpack_from(">I", raw, 0)
        at, found = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, at)
            name = raw[at + 4 : at + 4 + n].decode().lower()
            at += 4 + n
            (n,) = struct.unpack_from(">I", raw, at)
            found[name] = raw[at + 4 : at + 4 + n].decode()
            at += 4 + n
        return found

    def reply(self, stream: int) -> None:
        block = self.deflate.compress(struct.pack(">I", 0)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.control(SYN_REPLY, 0, struct.pack(">I", stream) + block)

    async def run(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readexactly(8)
                first, second = struct.unpack(">II", head)
                flags, length = second >> 24, second & 0xFFFFFF
                payload = await reader.readexactly(length)
                if first & 0x80000000:
                    if not self.on_control((first & 0xFFFF), flags, payload):
                        return
                else:
                    await self.on_data(first & 0x7FFFFFFF, flags, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            for task in self.tasks:
                task.cancel()
            for writer in self.pod.values():
                writer.close()

    def on_control(self, kind: int, flags: int, payload: bytes) -> bool:
        if kind == SYN_STREAM:
            (stream,) = struct.unpack_from(">I", payload, 0)
            stream &= 0x7FFFFFFF
            found = self.headers(payload[10:])
            self.reply(stream)
            request = found.get("requestid", str(stream))
            pair = self.pairs.setdefault(request, {})
            pair[found.get("streamtype", "data")] = stream
            if found.get("streamtype") == "data":
                self.early[stream] = []
            self.ports[request] = int(found.get("port", "0"))
            if "data" in pair and "error" in pair:
                task = asyncio.create_task(self.connect(request))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        elif kind == RST_STREAM:
            (stream,) = struct.unpack_from(">I", payload, 0)
            self.finished.add(stream & 0x7FFFFFFF)
            self.early.pop(stream & 0x7FFFFFFF, None)
            writer = self.pod.pop(stream & 0x7FFFFFFF, None)
            if writer is not None:
                writer.close()
        elif kind == PING:
            self.control(PING, 0, payload)  # the client's pings are answered with themselves
        elif kind == GOAWAY:
            return False
        return True  # SETTINGS, HEADERS and WINDOW_UPDATE change nothing here

    async def on_data(self, stream: int, flags: int, payload: bytes) -> None:
        if stream in self.early:  # the pod connection is still being opened
            self.early[stream].append((payload, flags))
            return
        writer = self.pod.get(stream)
        if writer is None:
            return  # the error stream's FIN, or a stream already reset
        await self.send(writer, payload, flags)

    @staticmethod
    async def send(writer: asyncio.StreamWriter, payload: bytes, flags: int) -> None:
        if payload:
            writer.write(payload)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        if flags & FIN and writer.can_write_eof():
            writer.write_eof()

    async def connect(self, request: str) -> None:
        pair, port = self.pairs.pop(request), self.ports.pop(request)
        error, data = pair["error"], pair["data"]
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as failure:
            self.early.pop(data, None)
            self.data(error, f"error forwarding port {port} to pod: {failure}".encode())
            self.data(error, b"", FIN)
            self.data(data, b"", FIN)
            return
        early = self.early.pop(data, [])
        self.pod[data] = writer  # from here on_data writes; first what came before, in order
        for payload, flags in early:
            writer.write(payload)
            if flags & FIN and writer.can_write_eof():
                writer.write_eof()
        try:
            while chunk := await reader.read(CHUNK):
                self.data(data, chunk)
        except ConnectionError:
            pass
        self.data(data, b"", FIN)
        self.data(error, b"", FIN)
        self.pod.pop(data, None)
        writer.close()


async def spdy(request: web.Request, dictionary: bytes) -> web.StreamResponse:
    """Upgrade to SPDY/3.1 and serve the port-forward session until the client goes."""
    response = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": "portforward.k8s.io",
        },
    )
    await response.prepare(request)
    transport, protocol = request.transport, request.protocol
    assert transport is not None
    reader = asyncio.StreamReader()
    protocol.set_parser(_Feed(reader))  # type: ignore[arg-type]
    session = SpdySession(transport, dictionary)
    await session.run(reader)
    transport.close()
    return response
