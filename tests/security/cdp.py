"""A small Chrome DevTools Protocol client over the machine's headless Chromium (no downloaded browser).

Enough to log a page in (set the session cookie), open a URL and read what its scripts did; the
command-line flags of tests/browser.py cannot carry a cookie.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests import browser


class Page:
    """One tab, driven through a flattened CDP session."""

    def __init__(self, ws: Any, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self._ids = itertools.count(1)

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        return _call(self.ws, self._ids, method, params, self.session_id, timeout)

    def set_cookie(self, name: str, value: str, url: str) -> None:
        self.send("Network.enable")
        ok = self.send(
            "Network.setCookie", {"name": name, "value": value, "url": url, "httpOnly": True, "sameSite": "Lax"}
        )
        assert ok.get("success", True), ok

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll ``expression`` until it is truthy; returns its value (or the last falsy one at the timeout)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError):  # the context is gone while the page navigates
                value = self.evaluate(expression)
                if value:
                    return value
            time.sleep(0.5)
        return value


def _call(ws: Any, ids: Any, method: str, params: dict | None, session_id: str | None, timeout: float) -> dict:
    msg_id = next(ids)
    message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
    if session_id:
        message["sessionId"] = session_id
    ws.send(json.dumps(message))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if reply.get("id") == msg_id and reply.get("sessionId") == session_id:
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply.get("result", {})
    raise TimeoutError(method)


@contextlib.contextmanager
def chromium_page() -> Iterator[Page]:
    """A headless Chromium with remote debugging on a free port, and one blank tab in it."""
    from websockets.sync.client import connect

    exe = browser.chromium()
    if exe is None:
        raise RuntimeError("chromium not found; run ./dev setup (installs Debian's chromium)")
    with tempfile.TemporaryDirectory(prefix="mlops-cdp-") as profile:
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
        proc = subprocess.Popen(
            [exe, *args, "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("chromium did not open its DevTools port")
                time.sleep(0.2)
            port, path = port_file.read_text().splitlines()[:2]
            with connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30) as ws:
                ids = itertools.count(10_000)
                target = _call(ws, ids, "Target.createTarget", {"url": "about:blank"}, None, 30)["targetId"]
                attached = _call(ws, ids, "Target.attachToTarget", {"targetId": target, "flatten": True}, None, 30)
                yield Page(ws, attached["sessionId"])
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
