"""A test helper: the web app on uvicorn on a free 127.0.0.1 port in a thread, stopped on exit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from fer.benchmarks.serve import free_port


@contextmanager
def running(app, timeout: float = 120.0) -> Iterator[str]:
    """Serve ``app`` while the block runs; yields its base URL ``http://127.0.0.1:PORT``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < end:
        time.sleep(0.05)
    try:
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
