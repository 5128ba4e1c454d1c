"""A TCP proxy that behaves like a village's link: capped bandwidth per direction, one-way delay,
cut (every connection reset, as a router reboot does) or silenced (nothing forwarded, nothing
closed: packets dropped somewhere upstream) on demand or at intervals.

It sits between a node and nats-server and forwards bytes unchanged (the link is TLS end to end),
counting them per direction, so a test can compare what crossed the link with what had to.

Shaping: a direction reads at most ``CHUNK`` bytes at a time, only as fast as its rate lets them
out (so the sender's own socket buffers fill, as a modem's do), then delivers each chunk
``delay_s`` later. Silenced, a direction holds what it read and reads nothing more.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

CHUNK = 1024
UNLIMITED = float("inf")
SOCKET_BUFFER = 32 * 1024  # what a 2G modem buffers, about; keeps bufferbloat realistic


@dataclass
class Direction:
    bytes_per_s: float
    delay_s: float
    forwarded: int = 0  # bytes delivered through this direction, over all connections
    _next_free: float = field(default=0.0, repr=False)


class ShapingProxy:
    def __init__(
        self, target_port: int, kbit_per_s: float | None = 64, one_way_ms: float = 300, host: str = "127.0.0.1", down_kbit_per_s: float | None = None
    ) -> None:
        """``kbit_per_s`` None: no bandwidth cap (a good link that can still be cut or silenced)."""
        self.host = host
        self.target_port = target_port
        up = kbit_per_s * 1000 / 8 if kbit_per_s else UNLIMITED
        self.up = Direction(up, one_way_ms / 1000)  # node -> server
        self.down = Direction((down_kbit_per_s or kbit_per_s or 0) * 1000 / 8 or UNLIMITED, one_way_ms / 1000)  # server -> node
        self._sock = socket.socket()
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._open = asyncio.Event()
        self._transports: set[asyncio.Transport] = set()
        self._thread = threading.Thread(target=self._run, name=f"shaping-proxy-{self.port}", daemon=True)
        self._started = threading.Event()
        self.cuts = 0
        self._schedule: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"tls://{self.host}:{self.port}"

    def start(self) -> ShapingProxy:
        self._thread.start()
        self._started.wait(10)
        return self

    def cut(self) -> None:
        """Reset every open connection now; new ones are accepted."""
        self._loop.call_soon_threadsafe(self._cut)

    def silence(self) -> None:
        """Forward nothing in either direction and close nothing: a link that went dead."""
        self._loop.call_soon_threadsafe(self._open.clear)

    # the chaos harness's words for the same faults (a partition is a silence that ends)
    def pause(self) -> None:
        self.silence()

    def resume(self) -> None:
        self.restore()

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(self._open.set)

    def cut_every(self, seconds: float, down_s: float = 2.0, first_after: float | None = None) -> None:
        """From now on, every ``seconds`` (the first after ``first_after``) the link is cut and
        stays down for ``down_s``."""

        async def schedule() -> None:
            wait = seconds if first_after is None else first_after
            while True:
                await asyncio.sleep(wait)
                wait = seconds
                self._open.clear()
                self._cut()
                await asyncio.sleep(down_s)
                self._open.set()

        self._loop.call_soon_threadsafe(lambda: setattr(self, "_schedule", self._loop.create_task(schedule())))

    def stop(self) -> None:
        async def shutdown() -> None:
            self._cut()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(5)

    def _cut(self) -> None:
        self.cuts += 1
        for transport in list(self._transports):
            transport.abort()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._open.set()
        server = self._loop.run_until_complete(asyncio.start_server(self._client, sock=self._sock))
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._cut()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _small_buffers(writer)
        await self._open.wait()  # a dead link does not even connect
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        _small_buffers(up_writer)
        ends = (writer.transport, up_writer.transport)
        self._transports.update(ends)
        try:
            await asyncio.gather(self._pipe(reader, up_writer, self.up), self._pipe(up_reader, writer, self.down))
        except asyncio.CancelledError:
            pass  # the proxy is stopping: nothing to report
        finally:
            for t in ends:
                self._transports.discard(t)
                t.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: Direction) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                at, data = item
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                await self._open.wait()
                if writer.transport.is_closing():
                    return
                way.forwarded += len(data)  # counted before the peer can see it
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                await self._open.wait()
                data = await reader.read(CHUNK if way.bytes_per_s != UNLIMITED else 65536)
                if not data:
                    break
                # serialisation at the link's rate, then the propagation delay
                now = time.monotonic()
                way._next_free = max(way._next_free, now) + len(data) / way.bytes_per_s
                if way._next_free > now:
                    await asyncio.sleep(way._next_free - now)
                queue.put_nowait((way._next_free + way.delay_s, data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
            try:
                await delivering
            except (ConnectionError, OSError):
                pass
            writer.transport.abort()


def _small_buffers(writer: asyncio.StreamWriter) -> None:
    sock = writer.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
