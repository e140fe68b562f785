"""`opslens serve`: the dashboard from any folder, installed from a clone or a wheel.

It runs Streamlit on the app's own script (opslens/app/main.py, found inside the package, not in
the working folder) with production defaults: no usage statistics sent, no developer "Deploy"
button or menu, XSRF protection on, and no full garbage collection after every script run.
Options given after them (e.g. `--server.maxUploadSize 500`) pass through to Streamlit and win.
The clone's `.streamlit/config.toml` holds the same defaults for `streamlit run app.py` (a test
keeps the two equal).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_SCRIPT = Path(__file__).parent / "app" / "main.py"  # not imported here: the CLI starts without Streamlit

PRODUCTION_OPTIONS: dict[str, str] = {
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "viewer",
    "runner.postScriptGC": "false",  # a full collection after every run: ~0.1 s CPU per view (docs/benchmarks.md)
    "server.enableXsrfProtection": "true",
    "server.headless": "true",
}


def command(port: int, address: str | None, streamlit_args: list[str]) -> list[str]:
    """The Streamlit command line that serves the app."""
    options = {**PRODUCTION_OPTIONS, "server.port": str(port)}
    if address:
        options["server.address"] = address
    flags = [part for key, value in options.items() for part in (f"--{key}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), *flags, *streamlit_args]


def serve(db: Path, port: int, address: str | None, streamlit_args: list[str]) -> None:
    """Replace this process with the Streamlit server on store `db` (signals then reach Streamlit itself)."""
    environment = {**os.environ, "OPSLENS_DB": str(db.resolve())}
    argv = command(port, address, streamlit_args)
    os.execve(argv[0], argv, environment)
