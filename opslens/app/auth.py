"""Sign-in (SPEC §4): Streamlit's `st.login` / `st.user`, the [access] grants, the audit trail.

With no [access] section in opslens.toml the app is the local single-user tool it always was
(`access.LOCAL`: every market, every action, no sign-in, no audit). With one, `gate()` shows nothing
but a sign-in button until the user has signed in with the organisation's OpenID Connect provider
(Streamlit's [auth] secrets), then a no-access page unless a grant names their e-mail or a group.

The user is read in one place, `current_user()`, so the AppTests replace it to act as anyone.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from opslens import access, audit, config
from opslens.access import Access, AccessSettings

_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
_SIGNED_IN = "_audit_signed_in"  # session state: the e-mail whose sign-in this session has recorded


def current_user() -> Mapping[str, object] | None:
    """The signed-in user's ID-token claims (None before sign-in): the app's one read of `st.user`."""
    user = st.user
    if not user.is_logged_in:
        return None
    return user.to_dict()


def identity(claims: Mapping[str, object], groups_claim: str) -> tuple[str, tuple[str, ...]]:
    """The e-mail and groups in the ID token's claims ('' when there is no verified e-mail).

    A provider that says the e-mail is not verified (`email_verified = false`) does not identify
    the user by it: anyone could have typed that address.
    """
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        email = ""
    groups = claims.get(groups_claim)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list | tuple):
        groups = []
    return email.strip(), tuple(str(g) for g in groups)


def current_access() -> Access | None:
    """What the user of this session may do: `access.LOCAL` without [access]; None: not signed in or no grant.

    Raises `config.ConfigError` for a broken [access] section (the frame shows it and stops).
    """
    configured = access.settings()
    if configured is None:
        return access.LOCAL
    claims = current_user()
    if claims is None:
        return None
    return configured.resolve(*identity(claims, configured.groups_claim))


def auth_problem(section: object) -> str | None:
    """What is missing from Streamlit's [auth] secrets for sign-in to work; None when nothing is."""
    where = "Streamlit's secrets (.streamlit/secrets.toml or --secrets.files)"
    if not isinstance(section, Mapping):
        return f"[access] in opslens.toml needs sign-in, but {where} have no [auth] section"
    missing = [key for key in ("redirect_uri", "cookie_secret") if not section.get(key)]
    if missing:
        return f"[auth] in {where} needs {' and '.join(missing)}"
    try:
        provider = login_provider(section)
    except ValueError as error:
        return str(error)
    settings = section if provider is None else section[provider]
    missing = [key for key in _PROVIDER_KEYS if not settings.get(key)]
    if missing:
        table = "[auth]" if provider is None else f"[auth.{provider}]"
        return f"{table} in {where} needs {', '.join(missing)} (from the OpenID Connect provider)"
    return None


def login_provider(section: Mapping[str, object]) -> str | None:
    """The provider `st.login` uses: None for settings directly in [auth], else its one [auth.NAME]."""
    if "client_id" in section:
        return None
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    if len(named) != 1:
        listed = f" ({', '.join(named)})" if named else ""
        raise ValueError(
            f"[auth] in Streamlit's secrets must configure one OpenID Connect provider, found {len(named)}{listed}"
        )
    return named[0]


def _auth_section() -> object:
    try:
        return st.secrets.get("auth")
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None


def gate() -> Access | None:
    """Draw the sign-in, no-access or configuration-error page when that is all there is to show.

    Returns the user's access when the app may be shown; the sidebar then says who is signed in.
    """
    try:
        configured = access.settings()
        config.stall_limits()  # a broken opslens.toml stops here too, before anything is shown
    except config.ConfigError as error:
        _stop_page("Ops Lens cannot start: its configuration has a mistake", str(error))
        return None
    if configured is None:
        return access.LOCAL
    claims = current_user()
    _no_builtin_downloads(signed_in=claims is not None)
    section = _auth_section()
    problem = auth_problem(section)
    if problem:
        _stop_page("Ops Lens cannot start: sign-in is not configured", problem)
        return None
    if claims is None:
        _sign_in_page(login_provider(section))
        return None
    email, groups = identity(claims, configured.groups_claim)
    user = configured.resolve(email, groups)
    try:
        _record_sign_in(email, user)
    except OSError as error:  # no audit trail, no app: the trail is the point of signing in
        _stop_page("Ops Lens cannot record the sign-in in its audit log", str(error))
        return None
    if user is None:
        _no_access_page(email, configured)
        return None
    _sidebar(user)
    return user


def _no_builtin_downloads(signed_in: bool) -> None:
    """Turn off Streamlit's own table download (the CSV button of every st.dataframe) for the process.

    With sign-in, data leaves only through the Download buttons, which roles allow and the audit log
    records. The option is process-wide and reaches a browser with the next run's start, so it is set
    on the sign-in page already; a user already signed in when the process started gets a rerun first.
    """
    if st.get_option("client.disableDataExport"):
        return
    st.set_option("client.disableDataExport", True)
    if signed_in:
        st.rerun()


def signed_in() -> bool:
    """Whether the app may be shown (for the navigation menu), without drawing anything."""
    try:
        return current_access() is not None
    except config.ConfigError:
        return False


def _stop_page(title: str, message: str) -> None:
    st.title("Ops Lens")
    st.error(f"**{title}.** {message}", icon=":material/settings:")
    st.caption("Nothing is shown until this is fixed; see “Sign-in and access” in the README.")


def _sign_in_page(provider: str | None) -> None:
    st.title("Ops Lens")
    st.markdown("Sign in with your organisation's account to see the dashboards.")
    login = (provider,) if provider else ()
    st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, args=login)


def _no_access_page(email: str, configured: AccessSettings) -> None:
    st.title("Ops Lens")
    if email:
        st.warning(
            f"You are signed in as **{email}**, but no grant gives this account access to Ops Lens. "
            "Ask an Ops Lens admin to add you (`[access]` in opslens.toml).",
            icon=":material/lock:",
        )
    else:
        st.warning(
            "You are signed in, but your account has no verified e-mail address, so Ops Lens cannot tell "
            "who you are. Ask an Ops Lens admin.",
            icon=":material/lock:",
        )
    st.button("Sign out", icon=":material/logout:", on_click=_sign_out, args=(email or "(no e-mail)",))


def _sidebar(user: Access) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{user.email}** · {user.describe()}")
        st.button("Sign out", icon=":material/logout:", key="sign-out", on_click=_sign_out, args=(user.email,))


def _sign_out(email: str) -> None:
    record(email, "sign_out")
    st.session_state.pop(_SIGNED_IN, None)
    st.logout()


def _record_sign_in(email: str, user: Access | None) -> None:
    """Record the session's sign-in once (again if a different user signs in)."""
    shown = email or "(no e-mail)"
    if st.session_state.get(_SIGNED_IN) == shown:
        return
    if user is None:
        record(shown, "sign_in", outcome="no access")
    else:
        record(shown, "sign_in", outcome="granted", detail=user.describe())
    st.session_state[_SIGNED_IN] = shown


def record(user: str | None, event: str, **details: object) -> None:
    """Add an event to the audit log beside the store; nothing for the local tool (no user)."""
    if user is not None:
        audit.record(config.db_path(), user, event, **details)
