"""Background services of the demo (the API, the dashboard): start detached, wait until healthy, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from graph.config import PROJECT_ROOT

RUN_DIR = PROJECT_ROOT / "var" / "run"
LOG_DIR = PROJECT_ROOT / "var" / "log"


class ServiceError(Exception):
    """A service did not start or stop; the message is one line for the user."""


@dataclass(frozen=True)
class Service:
    """A named background process with a pid file, a log file and a health URL."""

    name: str
    command: tuple[str, ...]
    health_url: str

    @property
    def pid_path(self) -> Path:
        return RUN_DIR / f"{self.name}.pid"

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running service, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_path.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            self.pid_path.unlink(missing_ok=True)
            return None
        return pid

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:  # noqa: S310 (loopback URL)
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, env: dict[str, str], *, timeout: float = 60) -> int:
        """Start detached (survives the caller) and return its pid once the health URL answers."""
        running = self.pid()
        if running is not None and self.healthy():
            return running
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(self.command, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_path.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if proc.poll() is not None:
                self.pid_path.unlink(missing_ok=True)
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise ServiceError(f"the {self.name} exited at start: {tail[0][:300]} (log {self.log_path})")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"the {self.name} did not answer {self.health_url} within {timeout:.0f} s "
                                   f"(log {self.log_path})")
            time.sleep(0.3)
        return proc.pid

    def stop(self, *, timeout: float = 15) -> bool:
        """SIGTERM, then SIGKILL after the timeout; returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        return True
