"""The `examhall` command on a fresh data folder: embedded PostgreSQL started and stopped,
migrations at serve, the first admin, the demo site and its printed logins."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, login

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("EXAMHALL_")}


def run_cli(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "examhall", *args],
        env={**CLEAN_ENV, "EXAMHALL_DATA": str(data)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def postmaster_running(data: Path) -> bool:
    return (data / "pg" / "postmaster.pid").exists()


def test_first_admin_then_serve_demo_on_an_embedded_database(tmp_path: Path) -> None:
    data = tmp_path / "site"
    created = run_cli(
        data,
        "user",
        "create",
        "--username",
        "head",
        "--display-name",
        "处长 刘",
        "--role",
        "admin",
        "--password",
        "first-admin-2026",
    )
    assert created.returncode == 0, created.stderr
    assert "created user head with role(s) admin" in created.stdout
    assert not postmaster_running(data), "a CLI command must stop the embedded server it started"

    weak = run_cli(data, "user", "create", "--username", "weak", "--role", "admin", "--password", "short")
    assert weak.returncode != 0
    assert "password" in weak.stderr

    bad_role = run_cli(data, "user", "create", "--username", "x", "--role", "candidate", "--password", "long-enough-1")
    assert bad_role.returncode != 0
    assert "roles" in bad_role.stderr

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "examhall", "serve", "--demo", "--port", str(port)],
        env={**CLEAN_ENV, "EXAMHALL_DATA": str(data)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            banner.append(line)
            if "Application startup complete" in line:
                break
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}/" in text
        assert "embedded PostgreSQL" in text
        assert "admin" in text and "examhall-demo" in text
        assert "D2026110001" in text  # a demo candidate's ticket
        # Issue 6: the registration batch from the 300-candidate sample file, seated.
        registered = re.search(r"registration batch DEMO-2026-12: /batches/(\d+) — (\d+) applications imported", text)
        assert registered is not None and int(registered.group(2)) > 200, text
        assert re.search(r"(\d+) seated in /batches/\d+/schedule", text) is not None
        assert postmaster_running(data)

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            health = client.get("/healthz")
            assert health.json()["database"] == "ok"
            assert login(client, "head", "first-admin-2026").status_code == 302
            assert client.get("/api/v1/me").json()["roles"] == ["admin"]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as demo:
            assert login(demo, "chief", "examhall-demo").status_code == 302
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert not postmaster_running(data), "serve must stop the embedded PostgreSQL on exit"

    verified = run_cli(data, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout

    upgraded = run_cli(data, "db", "upgrade")
    assert upgraded.returncode == 0
    assert "migrated to head" in upgraded.stdout


def test_bad_settings_are_reported_without_a_stack_trace(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examhall", "db", "upgrade"],
        env={**CLEAN_ENV, "EXAMHALL_DATA": str(tmp_path), "EXAMHALL_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "EXAMHALL_PORT" in result.stderr
    assert "Traceback" not in result.stderr
