"""Who may see what: the `[access]` grants of opslens.toml, resolved for a signed-in user (SPEC §4).

A grant names a user by e-mail (case-insensitive) or a group from the ID token, a role and the
markets it covers (`["*"]`: every market, also those added later). A user matching several grants
gets the union of their markets and the highest role; a user matching none gets no access. No
Streamlit here: the app, `opslens export --as` and the tests resolve users the same way.

A mistake in the section stops whoever reads it with a message naming the setting, so a typo can
never open the app to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from opslens import config

ROLES = ("viewer", "analyst", "admin")  # lowest first: a higher role can do all a lower one can
EVERY_MARKET = "*"
DEFAULT_GROUPS_CLAIM = "groups"
_SECTION_KEYS = ("groups_claim", "users", "groups")
_GRANT_KEYS = ("role", "markets")


@dataclass(frozen=True)
class Access:
    """What one user may do: their role and markets (None: every market)."""

    email: str | None  # None: the local single-user tool (no [access] section)
    role: str
    markets: tuple[str, ...] | None

    @property
    def can_download(self) -> bool:
        return ROLES.index(self.role) >= ROLES.index("analyst")

    @property
    def is_admin(self) -> bool:
        """Admins load files and read every market's ingest log and the audit log."""
        return self.role == "admin"

    def scope_for(self, dataset: str) -> tuple[str, ...] | None:
        """The markets this user may see in a dataset (None: all); admins see the whole ingest log."""
        if dataset == "ingest_log" and self.is_admin:
            return None
        return self.markets

    def describe(self) -> str:
        markets = "every market" if self.markets is None else ", ".join(self.markets)
        return f"{self.role} · {markets}"


# No [access] section: one person on their own machine may do everything, as before sign-in existed.
LOCAL = Access(email=None, role="admin", markets=None)


@dataclass(frozen=True)
class Grant:
    role: str
    markets: tuple[str, ...] | None  # None: every market


@dataclass(frozen=True)
class AccessSettings:
    """The parsed [access] section."""

    groups_claim: str
    users: dict[str, Grant]  # by lower-case e-mail
    groups: dict[str, Grant]

    def resolve(self, email: str, groups: list[str] | tuple[str, ...] = ()) -> Access | None:
        """The user's access from every grant naming their e-mail or one of their groups; None: no grant."""
        email = email.strip()
        matched = [self.users[email.lower()]] if email.lower() in self.users else []
        matched += [self.groups[group] for group in dict.fromkeys(groups) if group in self.groups]
        if not email or not matched:
            return None
        role = max((grant.role for grant in matched), key=ROLES.index)
        if any(grant.markets is None for grant in matched):
            return Access(email, role, None)
        markets = sorted({market for grant in matched for market in grant.markets or ()})
        return Access(email, role, tuple(markets))


def settings() -> AccessSettings | None:
    """The [access] section of opslens.toml, checked; None when there is none (the local tool)."""
    values, source = config._settings()
    if "access" not in values:
        return None
    section = values["access"]
    where = f"{source}: [access]"
    if not isinstance(section, dict):
        raise config.ConfigError(f"{source}: 'access' must be a table ([access]), got {section!r}")
    for key in section:
        if key not in _SECTION_KEYS:
            raise config.ConfigError(f"{where} has no setting '{key}'; allowed: {', '.join(_SECTION_KEYS)}")
    claim = section.get("groups_claim", DEFAULT_GROUPS_CLAIM)
    if not isinstance(claim, str) or not claim.strip():
        raise config.ConfigError(f"{where} groups_claim must be the name of an ID-token claim, got {claim!r}")
    users = _grants(section.get("users", {}), f"{source}: [access.users", lower=True)
    groups = _grants(section.get("groups", {}), f"{source}: [access.groups", lower=False)
    return AccessSettings(claim.strip(), users, groups)


def resolve(email: str, groups: list[str] | tuple[str, ...] = ()) -> Access | None:
    """`settings().resolve(...)`; raises ConfigError when opslens.toml has no [access] section."""
    configured = settings()
    if configured is None:
        raise config.ConfigError(f"{config.config_path()} has no [access] section, so there are no users to act as")
    return configured.resolve(email, groups)


def _grants(table: object, where: str, lower: bool) -> dict[str, Grant]:
    """Each `[access.users."NAME"]` / `[access.groups."NAME"]` grant, checked; `where` opens the message."""
    if not isinstance(table, dict):
        raise config.ConfigError(f"{where}] must be a table of grants, got {table!r}")
    grants: dict[str, Grant] = {}
    for name, grant in table.items():
        here = f'{where}."{name}"]'
        if lower and "@" not in name:
            raise config.ConfigError(f"{here}: '{name}' is not an e-mail address")
        if not isinstance(grant, dict):
            raise config.ConfigError(f"{here} must be a table with role and markets, got {grant!r}")
        for key in grant:
            if key not in _GRANT_KEYS:
                raise config.ConfigError(f"{here} has no setting '{key}'; allowed: {', '.join(_GRANT_KEYS)}")
        key = name.strip().lower() if lower else name
        if key in grants:
            raise config.ConfigError(f"{here} names the same user as another grant (e-mails ignore case)")
        grants[key] = Grant(_role(grant.get("role"), here), _markets(grant.get("markets"), here))
    return grants


def _role(role: object, here: str) -> str:
    if role is None:
        raise config.ConfigError(f"{here} needs a role; allowed: {', '.join(ROLES)}")
    if role not in ROLES:
        raise config.ConfigError(f"{here} role {role!r} is not a role; allowed: {', '.join(ROLES)}")
    return str(role)


def _markets(markets: object, here: str) -> tuple[str, ...] | None:
    example = 'markets = ["WEST", "SOUTH"], or ["*"] for all'
    if markets is None:
        raise config.ConfigError(f"{here} needs markets ({example})")
    if (
        not isinstance(markets, list)
        or not markets
        or not all(isinstance(m, str) and m.strip() and m == m.strip() for m in markets)
    ):
        raise config.ConfigError(f"{here} markets must be a non-empty list of market codes ({example}): {markets!r}")
    if EVERY_MARKET in markets:
        return None
    return tuple(sorted(set(markets)))
