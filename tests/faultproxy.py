"""A loopback TCP proxy in front of a PostgreSQL server that can cut a connection at the
worst moment: right after it passes a COMMIT on to the server (which then commits while the
client never hears so), or instead of passing it on (nothing commits). Both look the same to
the client: the connection is gone while COMMIT runs.

Only what the client sends is read (for the text ``COMMIT``), so the client must not prepare
its statements (``prepare_threshold=None``): a prepared COMMIT goes by name, not by text.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FaultProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.mode = "pass"
        """``pass``; ``drop_after_commit``: forward the COMMIT, then cut; ``drop_before_commit``:
        cut instead of forwarding it. Either fires once, then the proxy passes again."""
        self.fired = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            cut = threading.Event()  # set: nothing more reaches the client
            threading.Thread(target=self._upstream, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client, cut), daemon=True).start()

    def _upstream(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            mode = self.mode
            if mode != "pass" and b"COMMIT\x00" in data:  # the statement itself, not READ COMMITTED
                self.mode = "pass"
                cut.set()
                self.fired.set()
                if mode == "drop_after_commit":
                    server.sendall(data)
                    threading.Event().wait(0.3)  # the server commits; the client never hears
                break
            try:
                server.sendall(data)
            except OSError:
                break
        _close(client)
        _close(server)

    def _downstream(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        while not cut.is_set():
            try:
                data = server.recv(65536)
            except OSError:
                data = b""
            if not data or cut.is_set():
                break
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client)
        _close(server)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
