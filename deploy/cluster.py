"""Run Ops Lens as several app processes behind nginx, with deploy/nginx/opslens.conf, on one machine.

For trying the production layout locally, for tests/test_proxy.py and for `bench/load.py --processes N`:

    .venv/bin/python deploy/cluster.py --db data/opslens.duckdb --processes 2 --port 8080

starts N `opslens serve` processes on free loopback ports (one shared cookie secret, as st.login
needs) and nginx (Debian's /usr/sbin/nginx) in front on --port, running the committed config with
only its ports and log path changed, until Ctrl-C. Everything it starts is stopped when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "nginx" / "opslens.conf"
NGINX = Path("/usr/sbin/nginx")
HOST = "127.0.0.1"


@dataclass
class Cluster:
    url: str  # nginx, the address viewers use
    backends: list[str]  # each app process's own address
    pids: list[int]  # the app processes (for CPU accounting)
    access_log: Path  # nginx's log: sticky key and upstream of every request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def render_config(backend_ports: list[int], port: int, access_log: Path) -> str:
    """The committed config with its upstream servers, listen port and log path replaced."""
    text = CONFIG.read_text(encoding="utf-8")
    servers = "".join(f"    server {HOST}:{p};\n" for p in backend_ports)
    text, found = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+;\n", "", text)
    assert found, "no upstream servers in the config"
    text = text.replace("    hash $opslens_backend consistent;\n", "    hash $opslens_backend consistent;\n" + servers)
    text = text.replace("listen 8080;", f"listen {HOST}:{port};")
    return text.replace("/var/log/nginx/opslens.access.log", str(access_log))


def _main_config(work: Path, site: Path) -> str:
    """A minimal nginx main config around the site file: everything under `work`, in the foreground."""
    temp = "\n".join(
        f"    {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""user root;
daemon off;
worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
{temp}
    include {site};
}}
"""


@contextlib.contextmanager
def cluster(
    db: Path, processes: int, work: Path, port: int | None = None, serve_command: list[str] | None = None
) -> Iterator[Cluster]:
    """N app processes and nginx in front; yields when all answer; stops them all afterwards.

    `serve_command` replaces `python -m opslens.cli serve` (the load test adds a run timer).
    """
    work.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    backend_ports = [free_port() for _ in range(processes)]
    secret = secrets.token_hex(32)
    # Streamlit takes the cookie secret only from its config or the environment, never a flag.
    env = {**os.environ, "OPSLENS_DB": str(Path(db).resolve()), "STREAMLIT_SERVER_COOKIE_SECRET": secret}
    started: list[subprocess.Popen] = []
    try:
        for number, backend in enumerate(backend_ports):
            command = [
                *(serve_command or [sys.executable, "-m", "opslens.cli", "serve"]),
                "--db", str(db), "--address", HOST, "--port", str(backend),
                "--server.fileWatcherType", "none",
            ]  # fmt: skip
            started.append(_start(command, work / f"app-{number}.log", env))
        access_log = work / "access.log"
        site = work / "opslens.conf"
        site.write_text(render_config(backend_ports, port, access_log), encoding="utf-8")
        (work / "nginx.conf").write_text(_main_config(work, site), encoding="utf-8")
        started.append(_start([str(NGINX), "-p", str(work), "-c", str(work / "nginx.conf")], work / "nginx.log", env))
        backends = [f"http://{HOST}:{p}" for p in backend_ports]
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 90
        while not all(healthy(u) for u in [*backends, url]):
            dead = [p for p in started if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(f.read_text(errors="replace")[-2000:] for f in sorted(work.glob("*.log")))
                raise RuntimeError(f"the cluster did not come up ({len(dead)} process(es) ended); logs:\n{logs}")
            time.sleep(0.3)
        yield Cluster(url, backends, [p.pid for p in started[:-1]], access_log)
    finally:
        for process in reversed(started):
            _stop(process)


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start a process in its own group (so it can be stopped with its children), output to `log`."""
    with open(log, "w") as output:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--work", type=Path, default=Path("/tmp/opslens-cluster"))
    args = parser.parse_args(argv)
    with cluster(args.db, args.processes, args.work, args.port) as running:
        print(f"Ops Lens at {running.url} ({args.processes} processes: {', '.join(running.backends)}); Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
