"""The audit log on the Data health page, for admins of a signed-in app (SPEC §4)."""

from __future__ import annotations

import streamlit as st

from opslens import audit, config
from opslens.app import data, widgets
from opslens.queries import Filters

SHOWN = 1000  # the newest events on the page; the download and `opslens audit` have them all


def section() -> None:
    """Who signed in, downloaded and loaded what, newest first; nothing for other roles or the local tool."""
    user = data.user()
    if user.email is None or not user.is_admin:
        return
    st.subheader("Audit log")
    log = audit.read(config.db_path())
    st.caption(
        f"{log.events.height:,} events in `{audit.log_path(config.db_path())}`, newest first: sign-ins, downloads "
        "(dataset, format, filters) and loads (files, outcome). Export it with `opslens audit`."
    )
    if log.skipped_lines:
        st.warning(
            f"{log.skipped_lines} unreadable line(s) were skipped (a process was stopped while writing).",
            icon=":material/warning:",
        )
    widgets.dataframe(
        log.events.head(SHOWN),
        hide_index=True,
        column_config={
            "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "user": "User",
            "event": "Event",
            "dataset": "Dataset",
            "format": "Format",
            "filters": st.column_config.TextColumn("Filters", width="medium"),
            "files": st.column_config.TextColumn("Files", width="medium"),
            "outcome": "Outcome",
            "detail": st.column_config.TextColumn("Detail", width="large"),
        },
    )
    widgets.downloads("audit", Filters(), log.events, key="health-audit")
