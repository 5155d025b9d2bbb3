"""Open a report in headless Chromium, as a reader would, and check what they would see.

    python -m econdl.report.browser logs/kink/compare/version_0/report.html shot.png

Drives Chromium over the DevTools protocol (needs the ``websocket-client`` package and a
``chromium`` binary): loads the file, records every request the page makes, asks the page
whether each ``<img>`` decoded, and takes a full-page screenshot.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--hide-scrollbars",
]
IMAGES_JS = (
    "JSON.stringify({count: document.images.length,"
    " decoded: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,"
    " height: document.documentElement.scrollHeight, text: document.body.innerText.length})"
)


@dataclass
class PageCheck:
    """What the page did: images found and decoded, requests other than the file itself."""

    images: int
    decoded: int
    requests: list[str]
    height: int
    text_chars: int
    screenshot: Path | None


def find_chromium() -> str | None:
    """The Chromium (or Chrome) binary on PATH, None when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


class _DevTools:
    def __init__(self, ws_url: str) -> None:
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == event for e in self.events):
            return
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == event:
                return
        raise TimeoutError(f"Chromium sent no {event} within {timeout} s")


def _debugger_url(profile: Path, process: subprocess.Popen, timeout: float = 60) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with code {process.returncode} before opening DevTools")
        if port_file.is_file() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
                pages = [t for t in json.load(reply) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise TimeoutError(f"chromium opened no DevTools port within {timeout} s")


def check_page(html: Path, screenshot: Path | None = None, width: int = 1200) -> PageCheck:
    """Load ``html`` in a fresh headless Chromium profile and report what happened."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium binary on PATH (Debian: apt-get install -y chromium)")
    html = Path(html).resolve()
    # (a profile file left by a process that outlived the stop is not worth failing the check for)
    with tempfile.TemporaryDirectory(prefix="econdl-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=hasattr(os, "killpg"),  # its own process group, ended as one below
        )
        try:
            tools = _DevTools(_debugger_url(Path(profile), process))
            tools.call("Network.enable")
            tools.call("Page.enable")
            tools.call("Page.navigate", url=html.as_uri())
            tools.wait_for("Page.loadEventFired")
            answer = tools.call("Runtime.evaluate", expression=IMAGES_JS, returnByValue=True)
            value = json.loads(answer["result"]["value"])
            if screenshot is not None:
                height = min(int(value["height"]), 16000)
                tools.call(
                    "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
                )
                shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                import base64

                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            requests = [
                e["params"]["request"]["url"] for e in tools.events if e.get("method") == "Network.requestWillBeSent"
            ]
            tools.ws.close()
        finally:
            _stop(process)
    others = [u for u in requests if u != html.as_uri() and not u.startswith("data:")]
    return PageCheck(value["count"], value["decoded"], others, int(value["height"]), int(value["text"]), screenshot)


def _stop(process: subprocess.Popen) -> None:
    """End Chromium and the processes it started (renderers, the crash handler), which could
    otherwise still be writing into the profile folder while it is deleted."""
    group = hasattr(os, "killpg")

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig) if group else process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=10)
    deadline = time.monotonic() + 5
    while group and time.monotonic() < deadline:  # the group is gone once its last process is
        try:
            os.killpg(process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    send(signal.SIGKILL)


def not_blank(png: Path, min_share: float = 0.01) -> bool:
    """True when at least ``min_share`` of the screenshot's pixels are not the background."""
    from PIL import Image

    with Image.open(png) as image:
        gray = image.convert("L")
        pixels = list(gray.getdata())
    background = max(set(pixels[:1000]), key=pixels[:1000].count)
    return sum(abs(p - background) > 16 for p in pixels) >= min_share * len(pixels)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m econdl.report.browser REPORT.html [SCREENSHOT.png]")
    result = check_page(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None)
    print(result)
