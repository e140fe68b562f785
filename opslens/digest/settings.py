"""The digest's settings in opslens.toml: [digest] (recipients, sender, link) and [smtp] (the relay).

The SMTP password is never in the file: `password_env` names the environment variable holding it,
so the file can be committed and shared while the secret stays in the service's environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from opslens import config
from opslens.config import ConfigError

DIGEST_KEYS = ("recipients", "sender", "base_url", "subject")
SMTP_KEYS = ("host", "port", "starttls", "username", "password_env", "timeout_seconds", "ca_file")
DEFAULT_SUBJECT = "Ops Lens digest, {as_of}"


@dataclass(frozen=True)
class Recipient:
    """Who gets a digest: an e-mail address and, for group grants, the groups they belong to."""

    email: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestSettings:
    recipients: tuple[Recipient, ...]
    sender: str | None
    base_url: str | None
    subject: str
    source: str  # the config file, for messages


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    username: str | None
    password_env: str | None
    timeout_seconds: float
    ca_file: Path | None
    source: str

    def password(self) -> str | None:
        """The password from the environment variable named by password_env; a clear error when unset."""
        if not self.username:
            return None
        value = os.environ.get(self.password_env or "")
        if not value:
            raise ConfigError(
                f"{self.source}: [smtp] password_env names the environment variable {self.password_env!r},"
                " which is not set (or empty): export it in the environment that runs `opslens digest`"
            )
        return value


def digest_settings() -> DigestSettings:
    """[digest], checked: recipients are e-mail addresses or tables {email = ..., groups = [...]}."""
    section, source = config.table("digest")
    _no_unknown(section, DIGEST_KEYS, "digest", source)
    entries = _list(section.get("recipients", []), "recipients", source)
    recipients = tuple(_recipient(entry, source) for entry in entries)
    sender = _text(section.get("sender"), "digest", "sender", source)
    base_url = _text(section.get("base_url"), "digest", "base_url", source)
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: [digest] base_url must start with http:// or https://, got {base_url!r}")
    subject = _text(section.get("subject"), "digest", "subject", source) or DEFAULT_SUBJECT
    return DigestSettings(recipients, sender, base_url.rstrip("/") if base_url else None, subject, source)


def smtp_settings() -> SmtpSettings:
    """[smtp], checked; `host` is required (only asked for when sending)."""
    section, source = config.table("smtp")
    if "password" in section:
        raise ConfigError(
            f"{source}: [smtp] password: the password never goes in the file; put it in an environment variable"
            " and name that variable in password_env"
        )
    _no_unknown(section, SMTP_KEYS, "smtp", source)
    host = _text(section.get("host"), "smtp", "host", source)
    if not host:
        raise ConfigError(f"{source}: [smtp] host is not set: name the mail relay to send the digest through")
    starttls = section.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ConfigError(f"{source}: [smtp] starttls must be true or false, got {starttls!r}")
    port = section.get("port", 587 if starttls else 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{source}: [smtp] port must be a port number (1-65535), got {port!r}")
    username = _text(section.get("username"), "smtp", "username", source)
    password_env = _text(section.get("password_env"), "smtp", "password_env", source)
    if username and not password_env:
        raise ConfigError(
            f"{source}: [smtp] username is set but password_env is not: name the environment variable that"
            " holds the password (the password itself never goes in the file)"
        )
    if username and not starttls:
        raise ConfigError(
            f"{source}: [smtp] username is set but starttls = false: the password would cross the network"
            " unencrypted; set starttls = true"
        )
    timeout = section.get("timeout_seconds", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{source}: [smtp] timeout_seconds must be a number of seconds > 0, got {timeout!r}")
    ca_file = _text(section.get("ca_file"), "smtp", "ca_file", source)
    return SmtpSettings(
        host, port, starttls, username, password_env, float(timeout), Path(ca_file) if ca_file else None, source
    )


def _recipient(entry: object, source: str) -> Recipient:
    if isinstance(entry, str):
        return Recipient(_address(entry, source))
    if isinstance(entry, dict) and set(entry) <= {"email", "groups"} and isinstance(entry.get("email"), str):
        groups = entry.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ConfigError(f"{source}: [digest] recipients: groups of {entry['email']!r} must be a list of names")
        return Recipient(_address(entry["email"], source), tuple(groups))
    raise ConfigError(
        f'{source}: [digest] recipients: each entry is an e-mail address or {{email = "...", groups = [...]}},'
        f" got {entry!r}"
    )


def _address(text: str, source: str) -> str:
    email = text.strip()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() or c in '<>,;"' for c in email):
        raise ConfigError(f"{source}: [digest] recipients: {text!r} is not an e-mail address")
    return email


def _list(value: object, key: str, source: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{source}: [digest] {key} must be a list, got {value!r}")
    return value


def _text(value: object, section: str, key: str, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{source}: [{section}] {key} must be text, got {value!r}")
    return value.strip() or None


def _no_unknown(section: dict, allowed: tuple[str, ...], name: str, source: str) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(f"{source}: [{name}] has no setting '{key}'; allowed: {', '.join(allowed)}")
