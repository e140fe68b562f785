"""`opslens digest`: for each recipient, resolve their markets, build the digest, write and/or send it.

A recipient whose digest fails (a query, the PDF, the SMTP server refusing them) is reported and
the others still get theirs; the caller turns the outcomes into the summary and the exit code.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opslens.digest import content, layout, mail, pdf, state
from opslens.digest.settings import DigestSettings, Recipient, SmtpSettings

log = logging.getLogger("opslens.digest")

SENT, WRITTEN, SKIPPED, FAILED = "sent", "written", "skipped", "failed"


class NoAccess(LookupError):
    """The recipient matches no grant: they get no digest (the message names them)."""


# Resolves a recipient to their markets (None = every market) or raises NoAccess.
ScopeResolver = Callable[[Recipient], tuple[str, ...] | None]


def all_markets(_recipient: Recipient) -> None:
    """Without [access] (a single-user install, SPEC §4) every recipient sees every market."""
    return None


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient's digest, in words for the summary."""

    email: str
    status: str  # sent | written | skipped | failed
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
                on_warning(f"{recipient.email}: {refusal}; no digest for them")
                outcomes.append(Outcome(recipient.email, SKIPPED, f"no access: {refusal}"))
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
        mail.send(mail.compose(digest, document, settings), smtp, password)
        state.record_sent(plan.store, email, digest.as_of)
        return Outcome(email, SENT, f"sent ({len(document) / 1024:,.0f} KB PDF)", scope, digest.as_of, written)
    except Exception as error:  # one recipient's failure must not stop the others; the message says why
        detail = str(error) if isinstance(error, mail.DeliveryError | content.DigestError) else _unexpected(error)
        return Outcome(email, FAILED, detail)


def _unexpected(error: Exception) -> str:
    log.debug("digest failed", exc_info=error)  # the traceback for whoever turns on debug logging
    return f"unexpected {type(error).__name__}: {error}"


def summary(outcomes: Sequence[Outcome]) -> str:
    """One line per recipient (status, e-mail, markets, what happened), then the counts."""
    width = max((len(o.email) for o in outcomes), default=0)
    lines = []
    for o in outcomes:
        scope = f" [{o.markets}]" if o.markets else ""
        lines.append(f"  {o.status:<8} {o.email:<{width}}{scope}: {o.detail}")
    counts = {status: sum(o.status == status for o in outcomes) for status in (SENT, WRITTEN, SKIPPED, FAILED)}
    total = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "nothing to do"
    as_of = sorted({o.as_of for o in outcomes if o.as_of})
    dates = f" as of {', '.join(map(str, as_of))}" if as_of else ""
    return "\n".join([f"digest{dates}: {len(outcomes)} recipient(s): {total}", *lines])
