"""`opslens digest`: the PDF shows the datasets' numbers with the date and scope on every page, the mail
reaches a real SMTP server (aiosmtpd, also with STARTTLS and login), failures are named per recipient
and give the documented exit code, and --skip-unchanged sends nothing without a new snapshot.

Numbers in the PDF are compared with the datasets (formatted as the app formats them) on the demo
store, and with values worked out by hand on a small store.
"""

# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from pathlib import Path

import polars as pl
import pypdf
import pytest
from conftest import DEMO_END
from handmade import make_store
from smtp_support import HOST, PASSWORD, USER, free_port, smtp_server

from opslens import audit
from opslens.app import fmt
from opslens.charts import stage_label
from opslens.cli import main
from opslens.digest import state
from opslens.queries import RULES, dataset


# ---------------------------------------------------------------------------------------- helpers
def pdf_pages(data: bytes) -> list[str]:
    """Each page's text with runs of whitespace made one space (table cells come one per line)."""
    assert data.startswith(b"%PDF-")
    return [re.sub(r"\s+", " ", page.extract_text()) for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "opslens.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(path))
    return path


def digest(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["digest", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def smtp_config(port: int, recipients: list[str], extra: str = "") -> str:
    listed = ", ".join(f'"{r}"' for r in recipients)
    return f"""
[digest]
recipients = [{listed}]
sender = "opslens@example.com"
base_url = "https://opslens.example.com"

[smtp]
host = "{HOST}"
port = {port}
starttls = false
timeout_seconds = 5
{extra}
"""


def dollars(value: float) -> str:
    """Money in the PDF's tables: whole dollars (the tiles use the app's compact form)."""
    return f"${value:,.0f}"


def attachment(message) -> bytes:
    parts = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert len(parts) == 1
    return parts[0].get_content()


@pytest.fixture
def store(tmp_path: Path, demo_db: Path) -> Path:
    """A private copy of the demo store (sending writes the digest state file beside it)."""
    copy = tmp_path / "store.duckdb"
    shutil.copy(demo_db, copy)
    return copy


# ------------------------------------------------------------------------ the PDF and its numbers
def test_the_pdf_shows_each_datasets_numbers_with_the_date_and_scope_on_every_page(
    store, tmp_path, monkeypatch, capsys
):
    write_config(tmp_path, monkeypatch, "")
    out = tmp_path / "out"
    code, stdout, _ = digest(capsys, "--db", str(store), "--as", "ann@example.com", "--output", str(out))
    assert code == 0, stdout
    files = list(out.glob("*.pdf"))
    assert [f.name for f in files] == ["opslens-digest_2026-11-20_ann-example.com.pdf"]
    assert re.search(r"written +ann@example\.com \[all markets \(6\)\]: wrote ", stdout)
    pages = pdf_pages(files[0].read_bytes())
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"As of {DEMO_END} · Markets: all markets (6)" in page
        assert f"Page {number} of {len(pages)}" in page
    text = " ".join(pages)

    headline = dataset("headline", db=store)
    for row in headline.iter_rows(named=True):
        value = fmt.FORMATTERS[row["unit"]](row["value"])
        assert f"{row['label']} {value} " in text, row["label"]
        change = fmt.change(row["change"], row["unit"])
        assert change is not None and f"{value} {change}" in text, row["label"]
    for row in dataset("backlog", db=store).iter_rows(named=True):
        assert (
            f"{stage_label(row['stage'])} {fmt.count(row['orders'])} {dollars(row['mrr'])} "
            f"{fmt.days(row['median_age_days'])} {fmt.count(row['stalled'])}" in text
        ), row["stage"]
    for row in dataset("market_attention", db=store).iter_rows(named=True):
        assert (
            f"{row['attention_rank']} {row['market']} {fmt.count(row['orders'])} {fmt.count(row['exception_orders'])}"
            f" {fmt.share(row['exception_share'])} {dollars(row['mrr_at_risk'])}" in text
        ), row["market"]
    for row in dataset("readiness", db=store).iter_rows(named=True):
        assert (
            f"{row['market']} {fmt.count(row['open_orders'])} {fmt.count(row['awaiting_network'])}"
            f" {fmt.share(row['awaiting_network_share'])} {dollars(row['awaiting_network_mrr'])}"
            f" {fmt.days(row['wait_days_p50'])} {fmt.days(row['wait_days_p85'])}" in text
        ), row["market"]
    for row in dataset("install_to_invoice", db=store).iter_rows(named=True):
        market = "All in scope" if row["market"] == "ALL" else row["market"]
        assert (
            f"{market} {fmt.count(row['invoiced_orders'])} {fmt.days(row['days_p50'])} {fmt.days(row['days_p85'])}"
            f" {fmt.days(row['days_p95'])} {fmt.days(row['days_mean'])} {fmt.count(row['installed_not_invoiced'])}"
            f" {dollars(row['unbilled_mrr'])}" in text
        ), market


# Two markets, two snapshots (T0 = 2026-03-01, S = 2026-03-02); default stall limits. The comparison
# date C of the exception changes is the earliest snapshot, T0 (none is a week before S).
#   NORTH N1 intake at T0, awaiting_network at S (run starts at S: age 0)                       mrr 40
#         N2 intake, new at S                                                                   mrr 60
#         N3 scheduled, entered 2026-01-01 (age 59 at T0, 60 at S > 21: stalled), appointment
#            03-10, network not ready (scheduled_before_ready): both rules at T0 and at S       mrr 25
#         N4 intake with fallout X at T0 (fallout), awaiting_network without it at S: resolved  mrr 10
#         N5 awaiting_appointment, new at S, one missed appointment (missed_appointment): new    mrr 15
#   SOUTH S1 scheduled, appointment 03-05, network ready 02-25 (no exception)                   mrr 50
#         S2 intake, new at S                                                                   mrr 70
#         S3 activated at T0 (installed 02-20, activated 02-21), invoiced 03-01 at S
#            (install to invoice 03-01 - 02-20 = 9 days)                                         mrr 30
SCOPED = """
snapshot_date | order_id | market | stage                | ordered_at | appointment_at | network_ready_at | installed_at | activated_at | invoiced_at | stage_entered_at | missed_appointments | fallout_code | mrr
2026-03-01    | N1       | NORTH  | intake               | 2026-02-28 |                |                  |              |              |             |                  |                     |              | 40
2026-03-01    | N3       | NORTH  | scheduled            | 2025-12-20 | 2026-03-10     |                  |              |              |             | 2026-01-01       |                     |              | 25
2026-03-01    | N4       | NORTH  | intake               | 2026-02-27 |                |                  |              |              |             |                  |                     | X            | 10
2026-03-01    | S1       | SOUTH  | scheduled            | 2026-02-20 | 2026-03-05     | 2026-02-25       |              |              |             |                  |                     |              | 50
2026-03-01    | S3       | SOUTH  | activated            | 2026-02-01 |                | 2026-02-10       | 2026-02-20   | 2026-02-21   |             |                  |                     |              | 30
2026-03-02    | N1       | NORTH  | awaiting_network     | 2026-02-28 |                |                  |              |              |             |                  |                     |              | 40
2026-03-02    | N2       | NORTH  | intake               | 2026-03-02 |                |                  |              |              |             |                  |                     |              | 60
2026-03-02    | N3       | NORTH  | scheduled            | 2025-12-20 | 2026-03-10     |                  |              |              |             | 2026-01-01       |                     |              | 25
2026-03-02    | N4       | NORTH  | awaiting_network     | 2026-02-27 |                |                  |              |              |             |                  |                     |              | 10
2026-03-02    | N5       | NORTH  | awaiting_appointment | 2026-02-25 |                | 2026-03-01       |              |              |             |                  | 1                   |              | 15
2026-03-02    | S1       | SOUTH  | scheduled            | 2026-02-20 | 2026-03-05     | 2026-02-25       |              |              |             |                  |                     |              | 50
2026-03-02    | S2       | SOUTH  | intake               | 2026-03-01 |                |                  |              |              |             |                  |                     |              | 70
2026-03-02    | S3       | SOUTH  | invoiced             | 2026-02-01 |                | 2026-02-10       | 2026-02-20   | 2026-02-21   | 2026-03-01  |                  |                     |              | 30
"""
GRANTS = """
[access.users."nora@example.com"]
role = "viewer"
markets = ["NORTH"]
[access.groups."south-planners"]
role = "analyst"
markets = ["SOUTH"]
"""


@pytest.fixture
def two_markets(tmp_path: Path) -> Path:
    return make_store(tmp_path / "scoped", SCOPED)


def test_each_recipient_gets_only_their_markets_with_numbers_worked_out_by_hand(
    two_markets, tmp_path, monkeypatch, capsys
):
    recipients = '["nora@example.com", {email = "sam@example.com", groups = ["south-planners"]}]'
    with smtp_server() as server:
        config = smtp_config(server.port, []).replace("recipients = []", f"recipients = {recipients}")
        write_config(tmp_path, monkeypatch, config + GRANTS)
        code, stdout, stderr = digest(capsys, "--db", str(two_markets), "--send")
    assert code == 0, stderr
    assert "2 recipient(s): 2 sent" in stdout
    assert re.search(r"sent +nora@example\.com \[NORTH\]: sent", stdout)
    assert re.search(r"sent +sam@example\.com +\[SOUTH\]: sent", stdout)
    messages = {r.recipients[0]: r.message for r in server.received}
    assert sorted(messages) == ["nora@example.com", "sam@example.com"] and len(server.received) == 2

    pages = pdf_pages(attachment(messages["nora@example.com"]))
    text = " ".join(pages)
    assert "SOUTH" not in text and "S1" not in text
    assert all("As of 2026-03-02 · Markets: NORTH" in page for page in pages)
    # NORTH at S: N1..N5 open (5, $150); at T0: N1, N3, N4 (3, $75). Awaiting network N1, N4: 2 of 5 = 40.0%,
    # none at T0. Orders with exceptions: N3, N5 at S; N3, N4 at T0. Nothing invoiced: P85 has no value.
    assert "Open orders 5 +2 since previous" in text
    assert "MRR in backlog ($/mo) $150 +$75 since previous" in text
    assert "Orders with exceptions 2 +0 (unchanged)" in text
    assert "Awaiting network 40.0% +40.0 pts since previous" in text
    assert "Install to invoice P85 – no change to show" in text
    assert "Unbilled MRR ($/mo) $0 +$0 (unchanged)" in text
    # Backlog: intake N2 (age 0); awaiting_network N1, N4 (both entered at S); awaiting_appointment N5;
    # scheduled N3 (60 days, stalled).
    assert "Intake 1 $60 0.0 d 0" in text
    assert "Awaiting network 2 $50 0.0 d 0" in text
    assert "Awaiting appointment 1 $15 0.0 d 0" in text
    assert "Scheduled 1 $25 60.0 d 1" in text
    assert "Installed 0 $0 – 0" in text
    # Attention: 5 orders judged, N3 and N5 with exceptions (40.0%, $25 + $15); stalled, scheduled_before_ready
    # and missed_appointment have one order each: the tie goes to the first in rule order, stalled.
    assert "1 NORTH 5 2 40.0% $40 Stalled 1" in text
    # Changes since T0: N3 stalled and booked-before-ready persist, N5's missed appointment is new, N4's
    # fallout resolved.
    assert "New and resolved exceptions since Sun 1 Mar 2026" in text
    assert "Stalled 0 0 1 +0" in text
    assert "Missed appointment 1 0 0 +1" in text
    assert "Booked before network ready 0 0 1 +0" in text
    assert "Order fallout 0 1 0 -1" in text
    assert "N5 NORTH Missed appointment Awaiting appointment $15" in text
    assert "N4 NORTH Order fallout Intake $10" in text

    text = " ".join(pdf_pages(attachment(messages["sam@example.com"])))
    assert "NORTH" not in text and "N3" not in text
    # SOUTH at S: S1, S2 open (2, $120); at T0: S1, S3 (2, $80). S3 invoiced after 9 days; at T0 nothing
    # was invoiced (no P85 then) and S3 was installed, not invoiced ($30 unbilled). No exception either day.
    assert "Open orders 2 +0 (unchanged)" in text
    assert "MRR in backlog ($/mo) $120 +$40 since previous" in text
    assert "Install to invoice P85 9.0 d no change to show" in text
    assert "Unbilled MRR ($/mo) $0 -$30 since previous" in text
    assert "All in scope 1 9.0 d 9.0 d 9.0 d 9.0 d 0 $0" in text
    assert "New: none." in text and "Resolved: none." in text

    # Each sending is in the audit log: who, what, when, the outcome.
    events = audit.read(two_markets).events.filter(pl.col("event") == "digest")
    assert sorted(events["user"]) == ["nora@example.com", "sam@example.com"]
    assert set(events["outcome"]) == {"sent"} and set(events["format"]) == {"pdf"}
    nora = events.filter(pl.col("user") == "nora@example.com").row(0, named=True)
    assert nora["filters"] == "as_of=2026-03-02; markets=NORTH"
    assert nora["files"] == "opslens-digest_2026-03-02_nora-example.com.pdf"


def test_the_numbers_equal_the_datasets_for_the_recipients_scope(store, tmp_path, monkeypatch, capsys):
    write_config(
        tmp_path, monkeypatch, '[access.users."ann@example.com"]\nrole = "viewer"\nmarkets = ["WEST", "SOUTH"]\n'
    )
    out = tmp_path / "out"
    code, _, stderr = digest(capsys, "--db", str(store), "--as", "ann@example.com", "--output", str(out))
    assert code == 0, stderr
    pages = pdf_pages((out / "opslens-digest_2026-11-20_ann-example.com.pdf").read_bytes())
    assert all(f"As of {DEMO_END} · Markets: SOUTH, WEST" in page for page in pages)
    text = " ".join(pages)
    for other in ("NORTH", "EAST", "METRO", "COAST"):
        assert other not in text
    scope = ["SOUTH", "WEST"]
    for row in dataset("headline", db=store, scope=scope).iter_rows(named=True):
        value = fmt.FORMATTERS[row["unit"]](row["value"])
        assert f"{row['label']} {value} {fmt.change(row['change'], row['unit'])}" in text, row["label"]
    for row in dataset("backlog", db=store, scope=scope).iter_rows(named=True):
        assert f"{stage_label(row['stage'])} {fmt.count(row['orders'])} {dollars(row['mrr'])} " in text
    attention = dataset("market_attention", db=store, scope=scope)
    assert attention["market"].to_list() != [] and set(attention["market"]) <= set(scope)
    for row in attention.iter_rows(named=True):
        assert f"{row['attention_rank']} {row['market']} {fmt.count(row['orders'])} " in text
    for row in dataset("changes", db=store, scope=scope).filter(pl.col("market") == "ALL").iter_rows(named=True):
        label = RULES[row["rule"]].label
        assert f"{label} {row['new']} {row['resolved']} {row['persisting']} {row['net_change']:+}" in text, label
    changed = dataset("exception_changes", db=store, scope=scope)
    for change in ("new", "resolved"):
        count = changed.filter(pl.col("change") == change).height
        assert f"the {min(count, 10)} with the most MRR of {count} {change} (order, exception) pairs" in text
    for row in dataset("install_to_invoice", db=store, scope=scope).iter_rows(named=True):
        market = "All in scope" if row["market"] == "ALL" else row["market"]
        assert f"{market} {fmt.count(row['invoiced_orders'])} {fmt.days(row['days_p50'])}" in text


def test_a_recipient_without_a_grant_is_skipped_with_a_warning(two_markets, tmp_path, monkeypatch, capsys):
    with smtp_server() as server:
        config = smtp_config(server.port, ["nora@example.com", "stranger@example.com"])
        write_config(tmp_path, monkeypatch, config + GRANTS)
        code, stdout, stderr = digest(capsys, "--db", str(two_markets), "--send")
        assert code == 0
        assert [r.recipients for r in server.received] == [["nora@example.com"]]
        assert "2 recipient(s): 1 sent, 1 no access" in stdout
        assert "warning: stranger@example.com has no access: no [access] grant in" in stderr

        code, stdout, stderr = digest(capsys, "--db", str(two_markets), "--send", "--as", "stranger@example.com")
        assert code == 3 and len(server.received) == 1
        assert "stranger@example.com has no access" in stderr


# --------------------------------------------------------------------------------------- sending
def test_each_recipient_gets_one_message_with_the_numbers_a_link_and_the_pdf(store, tmp_path, monkeypatch, capsys):
    with smtp_server() as server:
        write_config(tmp_path, monkeypatch, smtp_config(server.port, ["ann@example.com", "bob@example.com"]))
        code, stdout, stderr = digest(capsys, "--db", str(store), "--send")
    assert code == 0, stderr
    assert sorted(r.recipients[0] for r in server.received) == ["ann@example.com", "bob@example.com"]
    assert [len(r.recipients) for r in server.received] == [1, 1]
    assert "2 recipient(s): 2 sent" in stdout
    assert re.search(r"sent +ann@example\.com \[all markets \(6\)\]: sent \(\d+ KB PDF\)", stdout)
    message = next(r.message for r in server.received if r.recipients == ["ann@example.com"])
    assert message["To"] == "ann@example.com" and message["From"] == "opslens@example.com"
    assert message["Subject"] == f"Ops Lens digest, {DEMO_END}"
    body = message.get_body(("html",)).get_content()
    assert f'href="https://opslens.example.com/?as_of={DEMO_END}"' in body
    for row in dataset("headline", db=store).iter_rows(named=True):
        assert fmt.FORMATTERS[row["unit"]](row["value"]) in body, row["label"]
    plain = message.get_body(("plain",)).get_content()
    assert f"Open this view in Ops Lens: https://opslens.example.com/?as_of={DEMO_END}" in plain
    pages = pdf_pages(attachment(message))
    assert "For ann@example.com" in pages[0]
    assert not (tmp_path / "out").exists()  # with --send and no --output nothing is kept on disk


def test_starttls_and_login_with_the_password_from_the_environment(store, tmp_path, monkeypatch, capsys):
    with smtp_server(tmp_path, secure=True) as server:
        extra = f'username = "{USER}"\npassword_env = "DIGEST_SMTP_PASSWORD"\nca_file = "{server.ca_file}"'
        config = smtp_config(server.port, ["ann@example.com"], extra).replace("starttls = false", "starttls = true")
        write_config(tmp_path, monkeypatch, config)

        monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
        code, _, stderr = digest(capsys, "--db", str(store), "--send")
        assert code == 1 and "DIGEST_SMTP_PASSWORD" in stderr and "not set" in stderr
        assert server.received == []

        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
        code, stdout, stderr = digest(capsys, "--db", str(store), "--send")
        assert code == 4
        assert f"ann@example.com: the SMTP server {HOST}:{server.port} rejected the login of {USER}: 535" in stderr
        assert "1 failed" in stdout and server.received == []

        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", PASSWORD)
        code, stdout, stderr = digest(capsys, "--db", str(store), "--send")
        assert code == 0, stderr
        assert [r.recipients for r in server.received] == [["ann@example.com"]]
        assert pdf_pages(attachment(server.received[0].message))

        # Without the relay's certificate authority the certificate is not trusted: said so, with the fix.
        write_config(tmp_path, monkeypatch, config.replace(f'ca_file = "{server.ca_file}"', ""))
        code, _, stderr = digest(capsys, "--db", str(store), "--send")
        assert code == 4
        assert "TLS with the SMTP server" in stderr and "CERTIFICATE_VERIFY_FAILED" in stderr
        assert "set [smtp] ca_file" in stderr
    assert len(server.received) == 1


def test_starttls_is_required_when_configured(store, tmp_path, monkeypatch, capsys):
    with smtp_server() as server:  # a relay without STARTTLS
        config = smtp_config(server.port, ["ann@example.com"]).replace("starttls = false", "starttls = true")
        write_config(tmp_path, monkeypatch, config)
        code, _, stderr = digest(capsys, "--db", str(store), "--send")
    assert code == 4 and "does not offer STARTTLS" in stderr
    assert server.received == []


def test_a_refused_recipient_is_named_and_the_others_still_get_theirs(store, tmp_path, monkeypatch, capsys):
    recipients = ["ann@example.com", "refused.carl@example.com", "bob@example.com"]
    with smtp_server() as server:
        write_config(tmp_path, monkeypatch, smtp_config(server.port, recipients))
        code, stdout, stderr = digest(capsys, "--db", str(store), "--send")
    assert code == 4
    assert sorted(r.recipients[0] for r in server.received) == ["ann@example.com", "bob@example.com"]
    assert "3 recipient(s): 2 sent, 1 failed" in stdout
    assert re.search(
        r"failed +refused\.carl@example\.com \[all markets \(6\)\]: .*refused the recipient refused\.carl@example\.com: 550",
        stdout,
    )
    assert (
        f"opslens digest: refused.carl@example.com: the SMTP server {HOST}:{server.port} refused the recipient"
        " refused.carl@example.com: 550 5.1.1 mailbox unavailable" in stderr
    )
    assert set(state.last_sent(store)) == {"ann@example.com", "bob@example.com"}  # carl is retried next time
    events = audit.read(store).events.filter(pl.col("event") == "digest")
    outcomes = dict(zip(events["user"], events["outcome"], strict=True))
    assert outcomes == {"ann@example.com": "sent", "refused.carl@example.com": "failed", "bob@example.com": "sent"}
    carl = events.filter(pl.col("user") == "refused.carl@example.com").row(0, named=True)
    assert "550 5.1.1 mailbox unavailable" in carl["detail"]


def test_an_unreachable_server_fails_every_recipient_clearly(store, tmp_path, monkeypatch, capsys):
    port = free_port()  # nobody listens there
    write_config(tmp_path, monkeypatch, smtp_config(port, ["ann@example.com", "bob@example.com"]))
    code, stdout, stderr = digest(capsys, "--db", str(store), "--send")
    assert code == 4
    assert "2 recipient(s): 2 failed" in stdout
    for email in ("ann@example.com", "bob@example.com"):
        assert f"opslens digest: {email}: cannot reach the SMTP server {HOST}:{port}: " in stderr
        assert "Connection refused" in stderr
    assert state.last_sent(store) == {}


def test_skip_unchanged_sends_only_when_a_new_snapshot_arrived(store, tmp_path, monkeypatch, capsys):
    earlier = DEMO_END - dt.timedelta(days=7)
    with smtp_server() as server:
        write_config(tmp_path, monkeypatch, smtp_config(server.port, ["ann@example.com"]))
        assert digest(capsys, "--db", str(store), "--send", "--as-of", str(earlier))[0] == 0
        assert state.last_sent(store) == {"ann@example.com": earlier}

        code, stdout, _ = digest(capsys, "--db", str(store), "--send", "--skip-unchanged")  # the latest is newer
        assert code == 0 and "1 sent" in stdout
        assert state.last_sent(store) == {"ann@example.com": DEMO_END}

        code, stdout, _ = digest(capsys, "--db", str(store), "--send", "--skip-unchanged")
        assert code == 0
        assert re.search(rf"skipped +ann@example\.com: no new snapshot since their digest as of {DEMO_END}", stdout)

        # A new recipient has had no digest yet: they get one, the other is still skipped.
        write_config(tmp_path, monkeypatch, smtp_config(server.port, ["ann@example.com", "bob@example.com"]))
        code, stdout, _ = digest(capsys, "--db", str(store), "--send", "--skip-unchanged")
        assert code == 0 and "1 sent, 1 skipped" in stdout
        # Without --skip-unchanged the digest goes out again.
        assert digest(capsys, "--db", str(store), "--send", "--as", "ann@example.com")[0] == 0
    assert [r.recipients[0] for r in server.received] == [
        "ann@example.com",
        "ann@example.com",
        "bob@example.com",
        "ann@example.com",
    ]


# ---------------------------------------------------------------------------- settings and errors
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[smtp]\nhost = "mail"\npassword = "hunter2"', "the password never goes in the file"),
        ('[smtp]\nhost = "mail"\nusername = "bot"', "password_env is not"),
        ('[smtp]\nhost = "mail"\nusername = "bot"\npassword_env = "P"\nstarttls = false', "unencrypted"),
        ('[smtp]\nhost = "mail"\nport = "25"', "port must be a port number"),
        ("[smtp]\nport = 25", "[smtp] host is not set"),
        ('[smtp]\nhost = "mail"\nrelay = "x"', "[smtp] has no setting 'relay'"),
        (
            '[digest]\nsender = "a@b.example"\nrecipients = ["not an address"]',
            "'not an address' is not an e-mail address",
        ),
        ('[digest]\nsender = "a@b.example"\nrecipients = "ann@example.com"', "recipients must be a list"),
        ('[digest]\nsender = "a@b.example"\nbase_url = "opslens.example.com"', "base_url must start with http"),
        ('[smtp]\nhost = "mail"\n[digest]\nrecipients = ["ann@example.com"]', "[digest] sender is not set"),
        ('[smtp]\nhost = "mail"\n[digest]\nsender = "a@b.example"', "[digest] recipients is empty"),
    ],
)
def test_bad_settings_stop_the_run_with_a_message_naming_the_setting(
    store, tmp_path, monkeypatch, capsys, config, message
):
    path = write_config(tmp_path, monkeypatch, config)
    code, stdout, stderr = digest(capsys, "--db", str(store), "--send")
    assert code == 1 and stdout == ""
    assert message in stderr and str(path) in stderr
    assert "Traceback" not in stderr


def test_an_as_of_date_the_store_does_not_have_is_refused_before_any_digest(store, tmp_path, monkeypatch, capsys):
    write_config(tmp_path, monkeypatch, "")
    code, stdout, stderr = digest(capsys, "--db", str(store), "--as", "ann@example.com", "--as-of", "2030-01-01")
    assert code == 1 and stdout == ""
    assert f"2030-01-01 is not a snapshot date in the store (the nearest earlier one is {DEMO_END}" in stderr


def test_the_mail_subject_template(store, tmp_path, monkeypatch, capsys):
    with smtp_server() as server:
        config = smtp_config(server.port, ["ann@example.com"]).replace(
            "[smtp]", 'subject = "Weekly {markets} as of {as_of}"\n[smtp]'
        )
        write_config(tmp_path, monkeypatch, config)
        assert digest(capsys, "--db", str(store), "--send")[0] == 0
    assert server.received[0].message["Subject"] == f"Weekly all markets (6) as of {DEMO_END}"


def test_without_a_browser_for_the_charts_the_run_stops_with_a_clear_message(store, tmp_path, monkeypatch, capsys):
    """Kaleido needs Chromium; without it the run must say so, not hang on a browser that never starts."""
    write_config(tmp_path, monkeypatch, "")
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    code, stdout, stderr = digest(capsys, "--db", str(store), "--as", "ann@example.com", "--output", str(tmp_path))
    assert code == 1 and stdout == ""
    assert "opslens digest: cannot draw charts: Kaleido drives Chromium" in stderr
    assert not list(tmp_path.glob("*.pdf"))
