"""A TCP relay between the browser and the live server whose cable can be pulled.

``cut()`` closes every open connection (HTTP keep-alive and websockets alike) and refuses new
ones, as a network outage in the exam room would; ``restore()`` accepts connections again.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class NetCut:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.down = threading.Event()
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        threading.Thread(target=self._accept, name="netcut", daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()  # the cable is out: the connection fails at once
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self.lock:
            self.open.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()

    def cut(self) -> None:
        self.down.set()
        with self.lock:
            sockets = list(self.open)
        for s in sockets:
            self._close(s)

    def restore(self) -> None:
        self.down.clear()

    def stop(self) -> None:
        self.stopped.set()
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()
