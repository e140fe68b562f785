"""Where the store lives, the thresholds the exception rules use, ingest bounds and the app's upload settings.

They are read from the environment or a TOML file so that the app, the CLI and notebooks agree
without passing settings around.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from opslens.contract import OPEN_STAGES

DEFAULT_DB = Path("data") / "opslens.duckdb"
DEFAULT_CONFIG = Path("opslens.toml")

# SPEC §2, `stalled`: days in a stage after which an open order counts as stalled.
DEFAULT_STALL_LIMITS: dict[str, int] = {
    "intake": 3,
    "awaiting_network": 45,
    "awaiting_appointment": 7,
    "scheduled": 21,
    "installed": 3,
    "activated": 7,
}


# [upload]: the app's "Load snapshot files" section (Data health). Uploads also obey [ingest], with
# tighter bounds of their own on inflated size and time, because anyone who can open the app may upload.
DEFAULT_UPLOAD: dict[str, object] = {"enabled": True, "max_mb": 200, "max_inflated_mb": 1024, "max_seconds": 300}

# [ingest]: bounds on one ingest (all its files together) and how far ahead a snapshot may be dated.
DEFAULT_INGEST: dict[str, int] = {
    "max_inflated_mb": 4096,
    "max_rows": 30_000_000,
    "max_seconds": 1800,
    "future_days": 1,
}


@dataclass(frozen=True)
class IngestLimits:
    """What one ingest may read and how long it may run, with where each bound is set (for messages)."""

    max_inflated_mb: int = DEFAULT_INGEST["max_inflated_mb"]
    max_rows: int = DEFAULT_INGEST["max_rows"]
    max_seconds: int = DEFAULT_INGEST["max_seconds"]
    future_days: int = DEFAULT_INGEST["future_days"]
    section: dict[str, str] | None = None  # setting -> "[ingest] max_rows" etc.; default [ingest]

    def setting(self, name: str) -> str:
        return (self.section or {}).get(name, f"[ingest] {name}")


# [query]: the guarded query door (queries/db.py).
# threads: DuckDB threads one query may use. 1 spends the least CPU per view when many viewers share the
# machine (parallel plans cost ~20% more CPU for the same answer); more only helps a lone user with idle cores.
DEFAULT_QUERY: dict[str, object] = {"timeout_seconds": 30, "threads": 1}


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message says which and why."""


def db_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The store to open: an explicit path, else $OPSLENS_DB, else data/opslens.duckdb."""
    return Path(override or os.environ.get("OPSLENS_DB") or DEFAULT_DB)


def config_path() -> Path:
    """The settings file: $OPSLENS_CONFIG, else opslens.toml in the working directory."""
    return Path(os.environ.get("OPSLENS_CONFIG") or DEFAULT_CONFIG)


def _settings() -> tuple[dict[str, object], str]:
    """The config file's contents (empty when there is none) and its name for messages.

    Read again only when the file changes (by modification time and size): every query asks.
    """
    path = config_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}, str(path)
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size), str(path)


@functools.lru_cache(maxsize=8)
def _parsed(path: str, _mtime_ns: int, _size: int) -> dict[str, object]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def table(name: str) -> tuple[dict[str, object], str]:
    """One [name] table of the config file (empty when absent) and the file's name for messages.

    For modules that check their own section (the digest's [digest] and [smtp]).
    """
    settings, source = _settings()
    section = settings.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: '{name}' must be a table ([{name}]), got {section!r}")
    return section, source


def stall_limits(overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Stall limits per open stage: defaults, then the config file's [stalled_after_days], then overrides."""
    limits = dict(DEFAULT_STALL_LIMITS)
    settings, source = _settings()
    limits.update(_checked_limits(settings.get("stalled_after_days", {}), source))
    limits.update(_checked_limits(overrides or {}, "thresholds"))
    return limits


def upload_enabled() -> bool:
    """Whether the app offers to load files (Data health page): [upload] enabled, default true."""
    return _upload_settings()["enabled"]


def upload_limit_mb() -> int:
    """The most the app accepts in one upload, all files together, in MB: [upload] max_mb, default 200."""
    return _upload_settings()["max_mb"]


def ingest_limits() -> IngestLimits:
    """The bounds of an ingest from the command line: [ingest] over the defaults."""
    return IngestLimits(**_ingest_settings())


def upload_ingest_limits() -> IngestLimits:
    """The bounds of an app upload: [ingest], tightened by [upload] max_inflated_mb and max_seconds."""
    limits, upload = _ingest_settings(), _upload_settings()
    section = {}
    for name in ("max_inflated_mb", "max_seconds"):
        if upload[name] < limits[name]:
            limits[name] = upload[name]
            section[name] = f"[upload] {name}"
    return IngestLimits(**limits, section=section)


def _ingest_settings() -> dict[str, int]:
    """[ingest] over the defaults; unknown keys and values that are not whole numbers are rejected."""
    settings, source = _settings()
    section = settings.get("ingest", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: 'ingest' must be a table ([ingest]), got {section!r}")
    checked = dict(DEFAULT_INGEST)
    for key, value in section.items():
        if key not in DEFAULT_INGEST:
            raise ConfigError(f"{source}: [ingest] has no setting '{key}'; allowed: {', '.join(DEFAULT_INGEST)}")
        lowest = 0 if key == "future_days" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
            raise ConfigError(f"{source}: [ingest] {key} must be a whole number >= {lowest}, got {value!r}")
        checked[key] = value
    return checked


def _checked_limits(values: dict[str, object], source: str) -> dict[str, int]:
    """Reject unknown stages and non-integer or negative limits, naming where they came from."""
    checked: dict[str, int] = {}
    for stage, days in values.items():
        if stage not in OPEN_STAGES:
            raise ConfigError(f"{source}: '{stage}' is not an open stage; allowed: {', '.join(OPEN_STAGES)}")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ConfigError(f"{source}: stall limit for '{stage}' must be a whole number >= 0, got {days!r}")
        checked[stage] = days
    return checked


def _upload_settings() -> dict:
    """[upload] over the defaults; unknown keys and values of the wrong type are rejected, naming the file."""
    settings, source = _settings()
    section = settings.get("upload", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: 'upload' must be a table ([upload]), got {section!r}")
    checked = dict(DEFAULT_UPLOAD)
    for key, value in section.items():
        if key not in DEFAULT_UPLOAD:
            raise ConfigError(f"{source}: [upload] has no setting '{key}'; allowed: {', '.join(DEFAULT_UPLOAD)}")
        if key == "enabled" and not isinstance(value, bool):
            raise ConfigError(f"{source}: [upload] enabled must be true or false, got {value!r}")
        if key == "max_mb" and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise ConfigError(f"{source}: [upload] max_mb must be a whole number of megabytes > 0, got {value!r}")
        if key in ("max_inflated_mb", "max_seconds") and (
            not isinstance(value, int) or isinstance(value, bool) or value <= 0
        ):
            raise ConfigError(f"{source}: [upload] {key} must be a whole number > 0, got {value!r}")
        checked[key] = value
    return checked


def query_timeout_seconds() -> float:
    """How long one dataset query may run before it is stopped: [query] timeout_seconds, default 30."""
    value, source = _query_setting("timeout_seconds")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{source}: [query] timeout_seconds must be a number of seconds > 0, got {value!r}")
    return float(value)


def query_threads() -> int:
    """DuckDB threads per dataset query: [query] threads, default 1 (read before every query, like the limit)."""
    value, source = _query_setting("threads")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise ConfigError(f"{source}: [query] threads must be a whole number from 1 to 256, got {value!r}")
    return value


def _query_setting(name: str) -> tuple[object, str]:
    """One [query] setting (or its default) and where it was read, after checking the section's keys."""
    settings, source = _settings()
    section = settings.get("query", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: 'query' must be a table ([query]), got {section!r}")
    for key in section:
        if key not in DEFAULT_QUERY:
            raise ConfigError(f"{source}: [query] has no setting '{key}'; allowed: {', '.join(DEFAULT_QUERY)}")
    return section.get(name, DEFAULT_QUERY[name]), source


def fingerprint() -> tuple[object, ...]:
    """The settings that change numbers (the stall limits): part of every cached result's key, so an
    edited opslens.toml shows new numbers on the next interaction, without a restart."""
    return tuple(stall_limits().items())
