"""Loading snapshot files from the app: the "Load snapshot files" section of the Data health page.

`load_uploads` does the work and knows nothing of Streamlit: it checks the upload as a whole (file
names, total size against `[upload] max_mb`), writes the files under their own names (folders
removed) into a private temporary folder and loads them with the same `ingest_files` as
`opslens ingest`, so the same validation applies and a load is all or nothing. It never raises: it
returns an `UploadOutcome`, which `show_outcome` draws (a summary, every problem in a table, or the
store's error), so the page never shows a traceback.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from opslens import config
from opslens.app import auth, widgets
from opslens.app.text import plain
from opslens.ingest import IngestCancelled, IngestRejected, IngestResult, ingest_files
from opslens.store import StoreError

log = logging.getLogger("opslens.app.upload")

MB = 1024 * 1024  # megabytes as Streamlit counts them for server.maxUploadSize
UPLOAD_TYPES = ["csv", "gz", "parquet"]
PROBLEM_COLUMNS = ["file", "row", "column", "value", "message"]
_MAX_NAME_BYTES = 255  # the longest file name most file systems accept

# Session-state keys of the section.
_OUTCOME = "health-upload-outcome"  # the outcome of the last Load, shown once
_ROUND = "health-upload-round"  # bumped after a load, so the uploader starts empty again

Upload = tuple[str, bytes | bytearray | memoryview]  # (name as the browser sent it, content)


@dataclass(frozen=True)
class UploadOutcome:
    """What a Load did: `loaded` (with the ingest's result), `rejected` (nothing loaded, `problems` say
    why) or `error` (the store could not be written; nothing loaded)."""

    status: Literal["loaded", "rejected", "error"]
    message: str
    problems: list[dict[str, object]] = field(default_factory=list)  # PROBLEM_COLUMNS
    more: int = 0  # problems beyond those listed
    result: IngestResult | None = None

    @property
    def loaded(self) -> bool:
        return self.status == "loaded"

    def problem_table(self) -> pl.DataFrame:
        schema = {"file": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String, "message": pl.String}
        return pl.DataFrame(self.problems, schema=schema, orient="row")


def safe_name(name: str) -> str | None:
    """The upload's file name without any folder part (either slash), control characters or
    surrounding spaces; None when nothing usable is left ('', '.', '..' or too long)."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if base in ("", ".", "..") or len(base.encode("utf-8")) > _MAX_NAME_BYTES:
        return None
    return base


def load_uploads(
    db: str | os.PathLike[str],
    files: Sequence[Upload],
    limit_mb: int | None = None,
    cancel: threading.Event | None = None,
) -> UploadOutcome:
    """Check the uploaded files, then ingest them all into the store `db`, or load nothing.

    `limit_mb` caps the total size of all files (default: `[upload] max_mb` from opslens.toml).
    Setting `cancel` from another thread stops the load soon; nothing is loaded then.
    """
    if not files:
        return _rejected("No files were chosen; nothing was loaded.")
    limit_mb = config.upload_limit_mb() if limit_mb is None else limit_mb
    names = [safe_name(name) for name, _ in files]
    sizes = [memoryview(content).nbytes for _, content in files]
    if sum(sizes) > limit_mb * MB:
        listed = ", ".join(
            f"{safe or name} ({_mb(size)})" for (name, _), safe, size in zip(files, names, sizes, strict=True)
        )
        return _rejected(
            f"The upload is {_mb(sum(sizes))} in total ({listed}), over the limit of {limit_mb} MB for one upload "
            "(`[upload] max_mb` in opslens.toml); nothing was loaded. Load fewer files at a time, or use "
            "`opslens ingest FILE...`."
        )
    problems = [
        _problem(name, "has no usable file name; rename the file")
        for (name, _), safe in zip(files, names, strict=True)
        if not safe
    ]
    problems += [
        _problem(name, "was uploaded more than once (folders are ignored); remove the extra copy")
        for name in sorted({n for n in names if n and names.count(n) > 1})
    ]
    if problems:
        return _rejected("Rename the files below and upload them again; nothing was loaded.", problems)
    try:
        with tempfile.TemporaryDirectory(prefix="opslens-upload-", ignore_cleanup_errors=True) as folder:
            paths = [Path(folder) / name for name in names]
            for path, (_, content) in zip(paths, files, strict=True):
                path.write_bytes(content)
            return _ingest(db, paths, folder, names, cancel)  # never raises
    except OSError as error:  # the temporary copies could not be written (e.g. a full disk)
        return UploadOutcome("error", f"The uploaded files could not be saved ({error}); nothing was loaded.")


def _ingest(
    db: str | os.PathLike[str], paths: list[Path], folder: str, names: list[str], cancel: threading.Event | None
) -> UploadOutcome:
    try:
        # The log and every message name the files as uploaded, never the temporary copies; the bounds
        # are [ingest]'s, tightened by [upload] (anyone who can open the app may upload).
        result = ingest_files(
            db,
            paths,
            names=[f"{name} (uploaded)" for name in names],
            shown=names,
            limits=config.upload_ingest_limits(),
            cancel=cancel,
        )
    except IngestCancelled:
        return _rejected("Loading was cancelled before it finished; nothing was loaded.")
    except IngestRejected as error:
        prefix = folder + os.sep  # in case a message still names a temporary copy
        problems = [
            {
                "file": p.file.removeprefix(prefix),
                "row": p.row,
                "column": p.column,
                "value": p.value,
                "message": p.message.replace(prefix, ""),
            }
            for p in error.problems
        ]
        total = len(problems) + error.more
        return _rejected(f"The files were rejected, nothing was loaded ({total} problem(s)):", problems, error.more)
    except (StoreError, config.ConfigError) as error:  # the store cannot be written, or opslens.toml is wrong
        return UploadOutcome("error", f"{error}. Nothing was loaded.")
    except Exception as error:  # never a traceback on the page; the log has the details
        log.exception("loading uploaded files into %s failed", db)
        return UploadOutcome(
            "error",
            f"Loading failed unexpectedly ({type(error).__name__}: {error}). A load is all or nothing, so the "
            "store is as it was; the details are in the app's log.",
        )
    return UploadOutcome("loaded", result.summary(), result=result)


def _rejected(message: str, problems: list[dict[str, object]] | None = None, more: int = 0) -> UploadOutcome:
    return UploadOutcome("rejected", message, problems or [], more)


def _problem(file: str, message: str) -> dict[str, object]:
    return {"file": file, "row": None, "column": None, "value": None, "message": message}


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"


# --- the section on the page -------------------------------------------------------------------------


def section(db: Path) -> None:
    """The "Load snapshot files" expander (or a note that uploads are off), then the last Load's outcome.

    Only admins load files (SPEC §4; the local tool's user is one); each Load goes to the audit log.
    """
    user = auth.current_access()
    if user is None or not user.is_admin:
        st.caption("Loading files is for Ops Lens admins.")
        return
    try:
        enabled, limit_mb = config.upload_enabled(), config.upload_limit_mb()
    except config.ConfigError as error:
        st.error(f"Loading files in the app is unavailable: {plain(error)}", icon=":material/settings:")
        return
    if not enabled:
        st.caption(
            "Loading files in the app is turned off in opslens.toml (`[upload] enabled = false`); "
            "load them with `opslens ingest FILE...`."
        )
        return
    # Streamlit refuses any single file over server.maxUploadSize, whatever the widget says.
    per_file_mb = min(limit_mb, int(st.get_option("server.maxUploadSize")))
    round_ = st.session_state.get(_ROUND, 0)
    with st.expander("Load snapshot files", icon=":material/upload_file:"):
        st.caption(
            "Order snapshot and market footprint files in the input contract (CSV, CSV.GZ or Parquet; "
            f"see `data/sample/`), up to {limit_mb:,} MB together. They are checked exactly as "
            "`opslens ingest` checks them: one bad value rejects the whole load and nothing changes."
        )
        files = st.file_uploader(
            "Snapshot and footprint files",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            max_upload_size=per_file_mb,
            key=f"health-upload-files-{round_}",  # a new key empties the uploader
        )
        if st.button("Load", key="health-upload-load", type="primary", icon=":material/upload:", disabled=not files):
            outcome = _load_cancellably(db, [(f.name, f.getbuffer()) for f in files], limit_mb)
            auth.record(
                user.email,
                "load",
                files=[f.name for f in files],
                outcome=outcome.status,
                detail=outcome.message.splitlines()[0] if outcome.message else None,
            )
            st.session_state[_OUTCOME] = outcome
            if outcome.loaded:  # start over with an empty uploader, the whole page (sidebar too) from the new store
                st.session_state[_ROUND] = round_ + 1
                st.rerun()
    outcome = st.session_state.pop(_OUTCOME, None) or _stopped_outcome()  # shown once
    if outcome is not None:
        show_outcome(outcome)


# Each session's load in progress: (worker, its outcome once done). A click on Cancel starts the next
# run at once, in a new thread, while the stopped run is still waiting (Streamlit's fast reruns), and
# session state the stopped run writes is dropped; so the load is registered before it starts, and a
# run that finds its session's load here waits for it and shows its outcome.
_SESSION_LOADS: dict[str, tuple[threading.Thread, list[UploadOutcome]]] = {}
_SESSION_LOADS_LOCK = threading.Lock()


# Loads running in this process; when the server stops (SIGTERM), each is cancelled and waited for,
# so that it deletes its draft and releases the writer lock before the process ends.
_RUNNING: dict[threading.Thread, threading.Event] = {}


@atexit.register
def _cancel_running_loads() -> None:
    for worker, cancel in list(_RUNNING.items()):
        cancel.set()
        worker.join(timeout=30)


def _session() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def _stopped_outcome() -> UploadOutcome | None:
    """The outcome of this session's stopped load, waiting for it to finish unwinding (a second or so)."""
    with _SESSION_LOADS_LOCK:
        stopped = _SESSION_LOADS.pop(_session(), None)
    if stopped is None:
        return None
    worker, done = stopped
    worker.join()
    return done[0] if done else None


def _load_cancellably(db: Path, uploads: list[Upload], limit_mb: int) -> UploadOutcome:
    """Load in a worker thread while this script run waits, with a Cancel button.

    Every Streamlit call is a point where a run stops when it is asked to: a click on Cancel (any
    click, in fact) stops this run and starts the next, and a closed tab or a stopping server ends
    the session. The wait therefore updates its caption a few times a second; when the run is
    stopped there it cancels the ingest (which unwinds in a second or so, leaving the store as it
    was) and leaves the outcome for the session's next run.
    """
    cancel = threading.Event()
    done: list[UploadOutcome] = []

    def run() -> None:
        try:
            done.append(load_uploads(db, uploads, limit_mb, cancel))
        finally:
            _RUNNING.pop(threading.current_thread(), None)

    worker = threading.Thread(target=run, name="opslens-upload", daemon=True)
    _RUNNING[worker] = cancel
    st.button("Cancel loading", key="health-upload-cancel", icon=":material/cancel:")  # its click stops this run
    waiting = st.empty()
    started = time.monotonic()
    session = _session()
    with _SESSION_LOADS_LOCK:
        _SESSION_LOADS[session] = (worker, done)
    worker.start()
    try:
        while worker.is_alive():
            waiting.caption(f"Checking and loading the files… {time.monotonic() - started:,.0f} s")
            worker.join(0.25)
    except BaseException:  # Cancel, the session closed or the server stopping: stop the ingest cleanly
        cancel.set()
        raise
    with _SESSION_LOADS_LOCK:
        _SESSION_LOADS.pop(session, None)  # not stopped: this run shows the outcome
    waiting.empty()
    return done[0]


def show_outcome(outcome: UploadOutcome) -> None:
    if outcome.loaded:
        st.success("  \n".join(plain(line) for line in outcome.message.splitlines()), icon=":material/check_circle:")
        for warning in outcome.result.warnings if outcome.result else []:
            st.warning(plain(warning), icon=":material/warning:")
        return
    st.error(plain(outcome.message), icon=":material/error:")
    if outcome.problems:
        widgets.dataframe(
            outcome.problem_table(),
            hide_index=True,
            column_config={
                "file": "File",
                "row": st.column_config.NumberColumn("Row", format="%d", help="1-based data row"),
                "column": "Column",
                "value": "Value",
                "message": st.column_config.TextColumn("Problem", width="large"),
            },
        )
    if outcome.more:
        st.caption(f"… and {outcome.more} more problem(s) not listed.")
