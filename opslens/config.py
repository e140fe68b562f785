"""Where the store lives and the thresholds the exception rules use.

Both are read from the environment or a TOML file so that the app, the CLI and notebooks agree
without passing settings around.
"""

from __future__ import annotations

import os
import tomllib
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


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message says which and why."""


def db_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The store to open: an explicit path, else $OPSLENS_DB, else data/opslens.duckdb."""
    return Path(override or os.environ.get("OPSLENS_DB") or DEFAULT_DB)


def config_path() -> Path:
    """The thresholds file: $OPSLENS_CONFIG, else opslens.toml in the working directory."""
    return Path(os.environ.get("OPSLENS_CONFIG") or DEFAULT_CONFIG)


def stall_limits(overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Stall limits per open stage: defaults, then the config file's [stalled_after_days], then overrides."""
    limits = dict(DEFAULT_STALL_LIMITS)
    path = config_path()
    if path.exists():
        try:
            settings = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        limits.update(_checked_limits(settings.get("stalled_after_days", {}), str(path)))
    limits.update(_checked_limits(overrides or {}, "thresholds"))
    return limits


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
