"""A small W3C WebDriver client for chromedriver, over urllib: enough to load a page, run a script, read
the console, block the network and take screenshots (Chrome DevTools commands go through chromedriver's
`goog/cdp/execute`). Writing these few calls beat adding a driver library (docs/decisions.md)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "chromium"
CHROMEDRIVER = "chromedriver"
# The flags that work on these machines (no sandbox as root; no background traffic on a closed network).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
SCREENSHOT_ATTEMPTS = 3
BLOCKED = ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]


class WebDriverError(RuntimeError):
    """chromedriver answered with an error."""


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and ChromeDriver are installed."""
    absent = [name for name in (CHROMIUM, CHROMEDRIVER) if shutil.which(name) is None]
    if absent:
        return (
            f"{' and '.join(absent)} not installed: `apt-get install chromium chromium-driver` "
            "(.ci/run installs them) to run the browser tests"
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """One headless Chromium session through a chromedriver of its own, on a fresh profile."""

    def __init__(self, profile: Path, timeout_s: float = 30) -> None:
        port = _free_port()
        self._base = f"http://127.0.0.1:{port}"
        self._driver = subprocess.Popen(
            [shutil.which(CHROMEDRIVER) or CHROMEDRIVER, f"--port={port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                self._driver.kill()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        options = {
            "binary": shutil.which(CHROMIUM),
            "args": [*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"],
        }
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        capabilities["goog:loggingPrefs"] = {"browser": "ALL"}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self._session = f"/session/{session['sessionId']}"
        self.cdp("Network.enable")
        self.cdp("Network.setBlockedURLs", {"urls": BLOCKED})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self._base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            value = json.loads(error.read() or b"{}").get("value", {})
            raise WebDriverError(f"{value.get('error')}: {value.get('message', '')[:300]}") from None

    def _session_call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, self._session + path, body)

    def cdp(self, command: str, params: dict[str, Any] | None = None) -> Any:
        """A Chrome DevTools Protocol command, through chromedriver."""
        return self._session_call("POST", "/goog/cdp/execute", {"cmd": command, "params": params or {}})

    def open(self, url: str) -> None:
        self._session_call("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run a script's body in the page (`return ...` gives its value)."""
        return self._session_call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def click(self, selector: str) -> None:
        """Click the first element the CSS selector finds, as a person would (chromedriver waits out the
        navigation a link starts)."""
        found = self._session_call("POST", "/element", {"using": "css selector", "value": selector})
        element = next(iter(found.values()))
        self._session_call("POST", f"/element/{element}/click", {})

    def console(self) -> list[dict[str, Any]]:
        """The browser's console entries since the last call (level, message)."""
        entries: list[dict[str, Any]] = self._session_call("POST", "/se/log", {"type": "browser"})
        return entries

    def resize(self, width: int, height: int, *, mobile: bool = False) -> None:
        """The page's viewport, exactly (`mobile` as a phone would lay it out)."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        self.cdp("Emulation.setDeviceMetricsOverride", metrics)
        # A script waits for the page to settle at the new size (chromedriver waits out any navigation).
        self.run("return document.readyState")

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG at `path`."""
        for attempt in range(SCREENSHOT_ATTEMPTS):
            try:
                shot = self.cdp("Page.captureScreenshot", {"format": "png"})
                break
            except WebDriverError:
                # Seen on a loaded machine: a capture right after a resize is aborted; the next one works.
                if attempt == SCREENSHOT_ATTEMPTS - 1:
                    raise
                time.sleep(0.5)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            self._session_call("DELETE", "")
        except (OSError, WebDriverError):
            pass
        finally:
            self._driver.terminate()
            try:
                self._driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
