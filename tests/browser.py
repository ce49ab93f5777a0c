"""Headless Chromium from the machine (no downloaded browser): screenshots and rendered DOM of a page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

WINDOW = (1440, 900)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _run(
    url: str, *args: str, budget_ms: int = 20000, timeout: float = 90, window: tuple[int, int] = WINDOW
) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium not found; run ./dev setup (installs Debian's chromium)")
    with tempfile.TemporaryDirectory(prefix="mlops-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={window[0]},{window[1]}",
            f"--virtual-time-budget={budget_ms}",
            *args,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def dump_dom(url: str) -> str:
    """The page's DOM after its scripts ran (what the screenshot shows)."""
    return _run(url, "--dump-dom").stdout


def screenshot(url: str, out: Path, window: tuple[int, int] = WINDOW) -> Path:
    """Save a PNG of ``url`` at the window size; raises when Chromium wrote nothing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    proc = _run(url, f"--screenshot={out}", window=window)
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {url}:\n{proc.stderr[-2000:]}")
    return out


def distinct_colours(png: Path) -> int:
    """How many colours a PNG uses (a blank or error page uses very few)."""
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours) if colours else 1 << 20
