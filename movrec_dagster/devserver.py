"""A real `dagster dev` (webserver + daemon) on localhost, for UI tests and latency benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from movrec_dagster.runner import instance_yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DagsterDev:
    """Starts `dagster dev` in its own process group (so one signal stops the whole stack)."""

    def __init__(self, movrec_home: Path, dagster_home: Path, log: Path, instance: str | None = None) -> None:
        """`instance`: the dagster.yaml to run with (default: the zero-setup local one)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        dagster_home.mkdir(parents=True, exist_ok=True)
        (dagster_home / "dagster.yaml").write_text(instance or instance_yaml())
        self.env = {**os.environ, "MOVREC_HOME": str(movrec_home), "DAGSTER_HOME": str(dagster_home)}
        self.log = log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> DagsterDev:
        dagster = str(Path(sys.executable).parent / "dagster")
        self.process = subprocess.Popen(
            [dagster, "dev", "-m", "movrec_dagster.definitions", "-h", "127.0.0.1", "-p", str(self.port)],
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_until_up()
        return self

    def wait_until_up(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited: see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"dagster dev did not answer within {timeout_s}s: see {self.log}")

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def kill(self) -> None:
        """kill -9 the whole stack at once (webserver, daemon, code server, run workers): a crash."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def screenshot(url: str, target: Path, size: str = "1600,1000") -> None:
    """Headless Chromium; the UI renders only with a virtual-time budget."""
    profile = target.parent / ".chromium-profile"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={size}",
            "--virtual-time-budget=15000",
            f"--screenshot={target}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
