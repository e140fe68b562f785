"""The digest as an e-mail: an HTML body with the headline numbers and a link to the app view, the
PDF attached, sent through the SMTP relay of [smtp].

Each message gets its own SMTP session, so a recipient the server refuses, or a connection that
drops, costs only that recipient's digest. Errors become one sentence naming the server, the
recipient and what the server said (`DeliveryError`), never a traceback.
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlencode

from opslens.app import fmt
from opslens.config import ConfigError
from opslens.digest.content import Digest
from opslens.digest.settings import DigestSettings, SmtpSettings
from opslens.export import file_name


class DeliveryError(RuntimeError):
    """A message the SMTP server did not take; the text says which server, whom and why."""


def app_link(base_url: str | None, digest: Digest) -> str | None:
    """The app's Overview with the digest's filters (as-of date, markets), e.g. `.../?as_of=...&market=WEST`."""
    if not base_url:
        return None
    params = [("as_of", digest.as_of.isoformat())] + [("market", m) for m in digest.markets or ()]
    return f"{base_url}/?{urlencode(params)}"


def attachment_name(digest: Digest) -> str:
    """e.g. `opslens-digest_2026-11-30_ann-example.com.pdf`: the date and whom it is for."""
    meta = {"as_of": digest.as_of.isoformat()}
    if digest.recipient:
        meta["for"] = digest.recipient
    return file_name("opslens-digest", meta, "pdf").replace("_for-", "_")


def subject(settings: DigestSettings, digest: Digest) -> str:
    """[digest] subject with {as_of} and {markets} filled in."""
    try:
        return settings.subject.format(as_of=digest.as_of, markets=digest.scope_text(limit=5))
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"{settings.source}: [digest] subject {settings.subject!r} can only use {{as_of}} and {{markets}} ({error})"
        ) from None


def compose(digest: Digest, pdf: bytes, settings: DigestSettings) -> EmailMessage:
    """The message for one recipient: plain text and HTML alternatives, the PDF attached."""
    if not settings.sender:
        raise ConfigError(f"{settings.source}: [digest] sender is not set: the From address of the digest")
    link = app_link(settings.base_url, digest)
    message = EmailMessage()
    message["Subject"] = subject(settings, digest)
    message["From"] = settings.sender
    message["To"] = digest.recipient or ""
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(_plain(digest, link))
    message.add_alternative(_html(digest, link), subtype="html")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=attachment_name(digest))
    return message


def send(message: EmailMessage, smtp: SmtpSettings, password: str | None) -> None:
    """Deliver one message; a DeliveryError says what went wrong in words."""
    where = f"the SMTP server {smtp.host}:{smtp.port}"
    recipient = message["To"]
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as session:
            session.ehlo()
            if smtp.starttls:
                if not session.has_extn("starttls"):
                    raise DeliveryError(
                        f"{where} does not offer STARTTLS (set [smtp] starttls = false only for a"
                        " relay on this machine or a trusted network)"
                    )
                session.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
                session.ehlo()
            if smtp.username:
                session.login(smtp.username, password or "")
            session.send_message(message)
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as error:
        reasons = "; ".join(_reply(code, text) for code, text in error.recipients.values())
        raise DeliveryError(f"{where} refused the recipient {recipient}: {reasons}") from None
    except smtplib.SMTPSenderRefused as error:
        raise DeliveryError(
            f"{where} refused the sender {error.sender}: {_reply(error.smtp_code, error.smtp_error)}"
        ) from None
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError(
            f"{where} rejected the login of {smtp.username}: {_reply(error.smtp_code, error.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(
            f"{where} did not take the message to {recipient}: {_reply(error.smtp_code, error.smtp_error)}"
        ) from None
    except ssl.SSLError as error:
        hint = (
            " (for a relay with a private certificate authority, set [smtp] ca_file)"
            if "CERTIFICATE" in str(error).upper()
            else ""
        )
        raise DeliveryError(f"TLS with {where} failed: {error.reason or error}{hint}") from None
    except smtplib.SMTPException as error:  # e.g. the server closed the connection mid-session
        raise DeliveryError(f"{where} did not take the message to {recipient}: {error}") from None
    except (socket.gaierror, OSError) as error:  # refused, unknown host, timed out, no route
        raise DeliveryError(f"cannot reach {where}: {error}") from None


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {message}".strip()


def _headline(digest: Digest) -> list[tuple[str, str, str | None, float | None]]:
    """(label, value, change text, change) per headline measure, formatted as on the app's tiles."""
    rows = []
    for row in digest.frames["headline"].iter_rows(named=True):
        formatter = fmt.FORMATTERS.get(row["unit"], fmt.count)
        rows.append((row["label"], formatter(row["value"]), fmt.change(row["change"], row["unit"]), row["change"]))
    return rows


def _plain(digest: Digest, link: str | None) -> str:
    lines = [f"Ops Lens digest as of {digest.as_of}", f"Markets: {digest.scope_text()}", ""]
    since = f" (since {digest.previous_as_of})" if digest.previous_as_of else ""
    for label, value, change, _ in _headline(digest):
        lines.append(f"  {label}: {value}" + (f", {change}{since}" if change else ""))
    if digest.warnings:
        lines += ["", "Data health:"] + [f"  - {note}" for note in digest.warnings]
    lines += ["", "The attached PDF has the backlog by stage, markets that need attention, readiness gaps,"]
    lines += ["install to invoice and data health."]
    if link:
        lines += ["", f"Open this view in Ops Lens: {link}"]
    return "\n".join(lines) + "\n"


def _html(digest: Digest, link: str | None) -> str:
    """A plain, table-based layout: mail clients drop style sheets, so styles are inline."""
    cells = []
    for label, value, change, amount in _headline(digest):
        colour = "#5F6B7A" if not amount else ("#D55E00" if amount > 0 else "#007A5A")
        change_html = f'<div style="color:{colour};font-size:12px">{html.escape(change)}</div>' if change else ""
        cells.append(
            '<td style="border:1px solid #D5DCE4;background:#F4F7FA;padding:8px 10px;vertical-align:top">'
            f'<div style="color:#5F6B7A;font-size:12px">{html.escape(label)}</div>'
            f'<div style="font-size:20px;font-weight:bold">{html.escape(value)}</div>{change_html}</td>'
        )
    rows = "".join(f"<tr>{''.join(cells[i : i + 3])}</tr>" for i in range(0, len(cells), 3))
    since = (
        f"Changes are since the previous snapshot, {html.escape(str(digest.previous_as_of))}."
        if digest.previous_as_of
        else "This is the store's first snapshot: there is nothing to compare with yet."
    )
    health = ""
    if digest.warnings:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in digest.warnings)
        health = (
            '<div style="background:#FFF4E5;border-left:4px solid #E69F00;padding:6px 12px;margin:12px 0">'
            f'<b>Data health: read with care</b><ul style="margin:4px 0;padding-left:18px">{items}</ul></div>'
        )
    button = (
        f'<p><a href="{html.escape(link)}" style="background:#0072B2;color:#ffffff;padding:8px 14px;'
        f'text-decoration:none;border-radius:4px">Open this view in Ops Lens</a></p>'
        if link
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:Arial,sans-serif;color:#1F2933">'
        f'<h2 style="margin:0 0 4px">Ops Lens digest as of {html.escape(str(digest.as_of))}</h2>'
        f'<p style="color:#5F6B7A;margin:0 0 12px">Markets: {html.escape(digest.scope_text())} · {since}</p>'
        f'<table style="border-collapse:separate;border-spacing:6px">{rows}</table>{health}'
        "<p>The attached PDF has the backlog by stage, the markets that need attention, readiness gaps,"
        " install to invoice and data health.</p>"
        f"{button}</body></html>"
    )
