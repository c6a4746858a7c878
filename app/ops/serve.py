"""The embedded default's web server (`clientela serve`, which `make run` calls).

Werkzeug's threaded server, as `flask run` uses, with two things `flask run` cannot do: the
address it serves on becomes the public base URL (remembered in instance/public_base_url
unless PUBLIC_BASE_URL is set), so a link printed by any other command reaches this server;
and "ready" is announced only once `/healthz` answers through the socket, not before.
"""
from __future__ import annotations

import os
import threading
import time
import urllib.request
from typing import Callable

from flask import Flask
from werkzeug.serving import make_server

READY_TIMEOUT_SECONDS = 60


def remember_public_base_url(app: Flask, url: str) -> None:
    """Make `url` the public base URL of this app and, when the environment does not name one,
    of every later command (config.public_base_url reads the file)."""
    app.config["PUBLIC_BASE_URL"] = url
    os.makedirs(app.instance_path, exist_ok=True)
    with open(os.path.join(app.instance_path, "public_base_url"), "w") as handle:
        handle.write(url + "\n")


def serve(app: Flask, host: str, port: int, on_ready: Callable[[str], None],
          stop: threading.Event) -> None:
    """Serve `app` on host:port until `stop` is set; call `on_ready(url)` once /healthz answers.

    The socket is bound before this returns control to anything, so a port already taken fails
    here, loudly, instead of after "ready"."""
    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.port}"
    if not os.environ.get("PUBLIC_BASE_URL"):
        remember_public_base_url(app, url)
    thread = threading.Thread(target=server.serve_forever, name="clientela-http", daemon=True)
    thread.start()
    try:
        _wait_until_healthy(f"{url}/healthz", stop)
        if not stop.is_set():
            on_ready(url)
        stop.wait()
    finally:
        server.shutdown()
        thread.join()


def _wait_until_healthy(url: str, stop: threading.Event) -> None:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not stop.is_set():
        try:
            with direct.open(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {READY_TIMEOUT_SECONDS} s")
        stop.wait(0.1)
