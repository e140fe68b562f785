"""`opslens digest`: for each recipient, resolve their markets, build the digest, write and/or send it.

A recipient whose digest fails (a query, the PDF, the SMTP server refusing them) is reported and
the others still get theirs; the caller turns the outcomes into the summary and the exit code.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from opslens import access, audit, config
from opslens.digest import content, layout, mail, pdf, state
from opslens.digest.settings import DigestSettings, Recipient, SmtpSettings

log = logging.getLogger("opslens.digest")

SENT, WRITTEN, SKIPPED, NO_ACCESS, FAILED = "sent", "written", "skipped", "no access", "failed"


class NoAccess(LookupError):
    """The recipient matches no grant: they get no digest (the message names them)."""


# Resolves a recipient to their markets (None = every market) or raises NoAccess.
ScopeResolver = Callable[[Recipient], tuple[str, ...] | None]


def granted_markets(recipient: Recipient) -> tuple[str, ...] | None:
    """The recipient's markets from the [access] grants (opslens.access, as the app resolves a signed-in
    user); without an [access] section (the local single-user tool, SPEC §4) every market."""
    grants = access.settings()
    if grants is None:
        return None
    user = grants.resolve(recipient.email, recipient.groups)
    if user is None:
        groups = f" or the groups {', '.join(recipient.groups)}" if recipient.groups else ""
        raise NoAccess(f"no [access] grant in {config.config_path()} names this e-mail{groups}")
    return user.markets


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient's digest, in words for the summary."""

    email: str
    status: str  # sent | written | skipped | no access | failed
    detail: str
    markets: str = ""
    as_of: dt.date | None = None
    file: Path | None = None


@dataclass(frozen=True)
class Plan:
    """What one `opslens digest` run does."""

    store: Path
    recipients: Sequence[Recipient]
    as_of: dt.date | None = None
    output: Path | None = None  # folder for the PDFs; None = do not keep them
    send: bool = False
    skip_unchanged: bool = False


def run(
    plan: Plan,
    settings: DigestSettings,
    smtp: SmtpSettings | None,
    scope_of: ScopeResolver,
    on_warning: Callable[[str], None] = log.warning,
) -> list[Outcome]:
    """Every recipient's digest, one after the other; charts share one Kaleido browser for the run."""
    password = smtp.password() if plan.send and smtp else None  # a missing secret stops the run before any mail
    as_of = content.resolve_as_of(plan.store, plan.as_of)  # so does a date the store does not have
    sent_before = state.last_sent(plan.store) if plan.skip_unchanged else {}
    if plan.output:
        plan.output.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with layout.chart_server():
        for recipient in plan.recipients:
            try:
                markets = scope_of(recipient)
            except NoAccess as refusal:
                on_warning(f"{recipient.email} has no access: {refusal}; no digest for them")
                outcomes.append(Outcome(recipient.email, NO_ACCESS, str(refusal)))
                continue
            last = sent_before.get(recipient.email.lower())
            if last is not None and as_of <= last:
                outcomes.append(Outcome(recipient.email, SKIPPED, f"no new snapshot since their digest as of {last}"))
                continue
            outcomes.append(_one(plan, settings, smtp, password, recipient, markets, as_of))
    return outcomes


def _one(
    plan: Plan,
    settings: DigestSettings,
    smtp: SmtpSettings | None,
    password: str | None,
    recipient: Recipient,
    markets: tuple[str, ...] | None,
    as_of: dt.date,
) -> Outcome:
    email = recipient.email
    try:
        digest = content.build(plan.store, email, markets, as_of)
        scope = digest.scope_text()
        document = pdf.render(digest, link=mail.app_link(settings.base_url, digest))
        written = None
        if plan.output:
            written = plan.output / mail.attachment_name(digest)
            written.write_bytes(document)
        if not plan.send:
            return Outcome(email, WRITTEN, f"wrote {written}", scope, digest.as_of, written)
        assert smtp is not None
        message = mail.compose(digest, document, settings)
    except Exception as error:  # one recipient's failure must not stop the others; the message says why
        detail = str(error) if isinstance(error, content.DigestError) else _unexpected(error)
        return Outcome(email, FAILED, detail)
    return _deliver(plan.store, message, len(document), smtp, password, digest)


def _deliver(
    store: Path, message: EmailMessage, pdf_bytes: int, smtp: SmtpSettings, password: str | None, digest: content.Digest
) -> Outcome:
    """Send one message and record the attempt in the audit log (and, when it went out, in the state)."""
    email, scope = digest.recipient or "", digest.scope_text()
    try:
        mail.send(message, smtp, password)
    except Exception as error:
        detail = str(error) if isinstance(error, mail.DeliveryError) else _unexpected(error)
        outcome = Outcome(email, FAILED, detail, scope, digest.as_of)
    else:
        state.record_sent(store, email, digest.as_of)
        outcome = Outcome(email, SENT, f"sent ({pdf_bytes / 1024:,.0f} KB PDF)", scope, digest.as_of)
    try:
        audit.record(
            store,
            email,
            "digest",
            format="pdf",
            filters={"as_of": digest.as_of.isoformat(), "markets": scope},
            files=[mail.attachment_name(digest)],
            outcome=outcome.status,
            detail=outcome.detail if outcome.status == FAILED else f"via {smtp.host}:{smtp.port}",
        )
    except OSError as error:  # delivered but not on record: a failure to fix, yet never sent twice
        return Outcome(email, FAILED, f"{outcome.detail}, but the audit log could not be written: {error}", scope)
    return outcome


def _unexpected(error: Exception) -> str:
    log.debug("digest failed", exc_info=error)  # the traceback for whoever turns on debug logging
    return f"unexpected {type(error).__name__}: {error}"


def summary(outcomes: Sequence[Outcome]) -> str:
    """One line per recipient (status, e-mail, markets, what happened), then the counts."""
    width = max((len(o.email) for o in outcomes), default=0)
    lines = []
    for o in outcomes:
        scope = f" [{o.markets}]" if o.markets else ""
        lines.append(f"  {o.status:<9} {o.email:<{width}}{scope}: {o.detail}")
    statuses = (SENT, WRITTEN, SKIPPED, NO_ACCESS, FAILED)
    counts = {status: sum(o.status == status for o in outcomes) for status in statuses}
    total = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "nothing to do"
    as_of = sorted({o.as_of for o in outcomes if o.as_of})
    dates = f" as of {', '.join(map(str, as_of))}" if as_of else ""
    return "\n".join([f"digest{dates}: {len(outcomes)} recipient(s): {total}", *lines])
