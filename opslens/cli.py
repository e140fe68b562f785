"""The `opslens` command: a thin layer over ingest, the datasets, export and the demo generator.

Every command exits 0 on success, 2 when input is rejected (a file that breaks the contract; a
filter value the store does not have, as for a mistyped option) and 1 for other errors, always with a
message on stderr and never a traceback for something the user can fix. `digest` exits 4 when some
recipients' digests failed while the others went out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb

from opslens import access, audit, config, writer
from opslens.contract import STAGES
from opslens.export import TABLE_FORMATS, file_name, table_bytes
from opslens.ingest import IngestRejected, ingest_files
from opslens.queries import DATASETS, RULES, FilterError, Filters, fetch, snapshot_dates
from opslens.queries.db import QueryTimeout
from opslens.serve import serve
from opslens.store import StoreError
from opslens.text import printable, printable_lines
from opslens.writer import DEFAULT_WAIT_SECONDS

EXIT_OK, EXIT_ERROR, EXIT_REJECTED, EXIT_NO_ACCESS = 0, 1, 2, 3
EXIT_PARTIAL = 4  # digest: some recipients' digests failed, the others went out


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-03-01") from None


def _days(text: str) -> int:
    """A positive whole number of days (--horizon, --history)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of days") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1 day")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opslens", description="Ops Lens: operational visibility for broadband service delivery."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db_help = f"the store (default: $OPSLENS_DB or {config.DEFAULT_DB})"

    ingest = commands.add_parser(
        "ingest",
        help="load snapshot and footprint files (CSV, CSV.gz, Parquet), all or nothing",
        description="Validate the files against the contract and load them in one transaction.",
        epilog="Example: opslens ingest data/sample/snapshots.csv data/sample/footprint.csv",
    )
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument("--db", help=db_help)
    ingest.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait while another ingest writes the store (default {DEFAULT_WAIT_SECONDS:.0f})",
    )

    export = commands.add_parser(
        "export",
        help="write a dataset as CSV, JSON, Parquet or XLSX",
        description="Datasets: " + "; ".join(f"{d.name} ({d.grain})" for d in DATASETS.values()),
        epilog="Example: opslens export backlog --market NORTH --market SOUTH --format xlsx --output backlog.xlsx",
    )
    export.add_argument("dataset", choices=list(DATASETS), metavar="DATASET")
    export.add_argument("--db", help=db_help)
    export.add_argument("--as-of", type=_date, help="snapshot date (default: the store's latest)")
    export.add_argument("--market", action="extend", nargs="+", default=[], metavar="M", help="markets (repeatable)")
    export.add_argument("--product", action="extend", nargs="+", default=[], metavar="P", help="products (repeatable)")
    export.add_argument("--segment", action="extend", nargs="+", default=[], metavar="S", help="segments (repeatable)")
    export.add_argument("--from", dest="start", type=_date, help="start of the date range (trend dates; install dates)")
    export.add_argument("--to", dest="end", type=_date, help="end of the date range")
    export.add_argument(
        "--stage",
        action="extend",
        nargs="+",
        default=[],
        metavar="STAGE",
        help=f"drill-down: only these stages (orders, exceptions): {', '.join(STAGES)}",
    )
    export.add_argument(
        "--rule",
        action="extend",
        nargs="+",
        default=[],
        choices=list(RULES),
        metavar="RULE",
        help="drill-down: only these rules (orders, exceptions)",
    )
    # Flow and forecasts (SPEC §6)
    export.add_argument("--horizon", type=_days, metavar="N", help="forecasts: days ahead of the snapshot (default 28)")
    export.add_argument(
        "--history", type=_days, metavar="N", help="forecasts, clearance, service levels: days of history (default 56)"
    )
    export.add_argument(
        "--compare-to",
        type=_date,
        metavar="DATE",
        help="what changed (exception_changes, changes, backlog_changes, moved_backwards, compared_markets):"
        " the earlier snapshot date to compare with (default: the latest snapshot a week or more before --as-of,"
        " else the earliest); must be a snapshot date before --as-of",
    )
    export.add_argument(
        "--as",
        dest="as_user",
        metavar="EMAIL",
        help="compute exactly what this user sees in the app (the [access] grants of opslens.toml); exit 3: no access",
    )
    export.add_argument(
        "--group",
        action="extend",
        nargs="+",
        default=[],
        metavar="G",
        help="with --as: a group the user belongs to in the ID token (repeatable)",
    )
    _output_options(export)

    audit_log = commands.add_parser(
        "audit",
        help="export the audit log (sign-ins, downloads, loads) as CSV, JSON, Parquet or XLSX",
        description="The append-only log beside the store (<store>.audit.jsonl), newest first.",
        epilog="Example: opslens audit --format xlsx --output audit.xlsx",
    )
    audit_log.add_argument("--db", help=db_help)
    _output_options(audit_log)

    demo = commands.add_parser(
        "demo",
        help="generate realistic synthetic snapshots and load them",
        description="Deterministic by --seed; sized by --orders, --days and --markets.",
        epilog="Example: opslens demo --orders 20000 --days 180 --seed 3 --db data/big.duckdb",
    )
    demo.add_argument("--db", help=db_help)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--orders", type=int, default=6000)
    demo.add_argument("--days", type=int, default=120)
    demo.add_argument("--markets", type=int, default=6)
    demo.add_argument("--end", type=_date, default=None, help="last snapshot date (default: yesterday)")
    demo.add_argument("--replace", action="store_true", help="delete an existing store first")

    migrate = commands.add_parser(
        "migrate",
        help="create the store or upgrade its schema",
        epilog="Example: opslens migrate --db data/opslens.duckdb",
    )
    migrate.add_argument("--db", help=db_help)

    backup = commands.add_parser(
        "backup",
        help="copy the store to a file, consistently, and check the copy",
        description="Safe while the app is serving and while ingests run (it waits for a running ingest).",
        epilog="Example: opslens backup backups/opslens-2026-11-22.duckdb",
    )
    backup.add_argument("target", type=Path, metavar="FILE")
    backup.add_argument("--db", help=db_help)

    restore = commands.add_parser(
        "restore",
        help="replace the store with a backup (checked first; upgraded if older)",
        description="Viewers switch to the restored store on their next interaction.",
        epilog="Example: opslens restore backups/opslens-2026-11-22.duckdb",
    )
    restore.add_argument("source", type=Path, metavar="FILE")
    restore.add_argument("--db", help=db_help)

    digest = commands.add_parser(
        "digest",
        help="build each recipient's digest (PDF) of their markets, write it and/or e-mail it",
        description="Without --as: every recipient of [digest] recipients in opslens.toml, each scoped by their"
        " grants. Without --send the PDFs are written to --output (default: the current folder). Exit codes:"
        " 0 every digest written/sent or skipped, 1 nothing done (configuration or store error), 3 --as names"
        " a user without access, 4 some recipient's digest failed (the others went out; the summary says who).",
        epilog="Example: opslens digest --send --skip-unchanged",
    )
    digest.add_argument("--db", help=db_help)
    digest.add_argument(
        "--as", dest="as_user", metavar="EMAIL", help="only this user's digest, scoped by their [access] grants"
    )
    digest.add_argument(
        "--group", action="extend", nargs="+", default=[], metavar="G", help="with --as: the user's groups"
    )
    digest.add_argument("--as-of", type=_date, help="snapshot date (default: the store's latest)")
    digest.add_argument("--output", type=Path, metavar="DIR", help="folder to write the PDFs to")
    digest.add_argument("--send", action="store_true", help="e-mail each digest through [smtp]")
    digest.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="skip recipients already sent the digest of this snapshot (no new snapshot since)",
    )

    serve = commands.add_parser(
        "serve",
        help="serve the dashboard (Streamlit) on this store, from any folder",
        description="Production defaults: no usage statistics, no Deploy button, XSRF protection. Streamlit"
        " options given after the others pass through (they win).",
        epilog="Example: opslens serve --port 8501 --address 0.0.0.0 --server.maxUploadSize 500",
    )
    serve.add_argument("--db", help=db_help)
    serve.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    serve.add_argument("--address", help="address to listen on (default: Streamlit's, all interfaces)")
    return parser


def _stop_on_signal(number: int, _frame) -> None:
    """SIGTERM/SIGINT: stop every writer cleanly (store untouched, draft deleted, lock released)."""
    writer.stop_writers(f"stopped by {signal.Signals(number).name} before it finished; nothing was changed")


def _output_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--format", choices=TABLE_FORMATS, default="csv")
    command.add_argument(
        "--output", type=Path, help="file to write (default: stdout for csv/json, a named file for parquet/xlsx)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "serve":
        serve(config.db_path(args.db), args.port, args.address, extra)  # does not return
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command in WRITERS:
        with _signals_stop_writers():
            return _run(args)
    return _run(args)


WRITERS = ("ingest", "demo", "migrate", "backup", "restore")


class _signals_stop_writers:
    """While a writing command runs, SIGTERM and SIGINT stop it cleanly instead of killing it mid-write."""

    def __enter__(self) -> None:
        self.previous = {}
        try:
            for number in (signal.SIGTERM, signal.SIGINT):
                self.previous[number] = signal.signal(number, _stop_on_signal)
        except ValueError:  # not the main thread (main() called from a worker): leave signals alone
            pass

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        writer.clear_stop()


def _run(args: argparse.Namespace) -> int:
    handlers = {
        "ingest": _ingest,
        "export": _export,
        "audit": _audit,
        "demo": _demo,
        "migrate": _migrate,
        "backup": _backup,
        "restore": _restore,
        "digest": _digest,
    }
    try:
        return handlers[args.command](args)
    except IngestRejected as rejection:
        print(printable_lines(str(rejection)), file=sys.stderr)
        return EXIT_REJECTED
    except FilterError as error:  # a filter value the store does not have: one line, as for a bad option
        print(printable(f"opslens {args.command}: {error}"), file=sys.stderr)
        return EXIT_REJECTED
    except (StoreError, QueryTimeout, config.ConfigError, duckdb.Error, OSError, KeyError, ValueError) as error:
        print(printable_lines(f"opslens {args.command}: {error}"), file=sys.stderr)
        return EXIT_ERROR


def _ingest(args: argparse.Namespace) -> int:
    result = ingest_files(config.db_path(args.db), args.files, args.wait, on_wait=_tell)
    for warning in result.warnings:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    print(printable_lines(result.summary()))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    filters = Filters(
        as_of=args.as_of,
        markets=tuple(args.market) or None,
        products=tuple(args.product) or None,
        segments=tuple(args.segment) or None,
        start=args.start,
        end=args.end,
        stages=tuple(args.stage) or None,
        rules=tuple(args.rule) or None,
    )
    if args.group and not args.as_user:
        raise ValueError("--group describes the user of --as; give --as EMAIL too")
    if args.as_user:
        user = access.resolve(args.as_user, args.group)
        if user is None:
            groups = f" (groups: {', '.join(args.group)})" if args.group else " (no groups)"
            print(
                f"opslens export: {args.as_user}{groups} has no access: no [access] grant in "
                f"{config.config_path()} names this e-mail or one of these groups",
                file=sys.stderr,
            )
            return EXIT_NO_ACCESS
        filters = replace(filters, scope=user.scope_for(args.dataset))
        outside = [m for m in filters.markets or () if filters.scope is not None and m not in filters.scope]
        if outside:
            print(f"opslens export: market(s) {', '.join(outside)} not available to {user.email}", file=sys.stderr)
    filters = replace(filters, compare_to=args.compare_to, horizon=args.horizon, history=args.history)
    store = config.db_path(args.db)
    if filters.as_of is None:  # the latest snapshot, named: the file says which day it is (name, about, metadata)
        filters = replace(filters, as_of=next(iter(snapshot_dates(store)), None))
    frame = fetch(args.dataset, store, filters)
    meta = {"dataset": args.dataset, **filters.described()}
    if args.as_user:
        meta["as_user"] = user.email
    _write(frame, args.dataset, meta, args.format, args.output)
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    store = config.db_path(args.db)
    log = audit.read(store)
    if log.skipped_lines:
        print(f"opslens audit: skipped {log.skipped_lines} unreadable line(s) (a writer was killed)", file=sys.stderr)
    _write(log.events, "audit", {"dataset": "audit", "log": str(audit.log_path(store))}, args.format, args.output)
    return EXIT_OK


def _write(frame, name: str, meta: dict[str, str], fmt: str, output: Path | None) -> None:
    """The frame in `fmt` to `output`, or stdout (csv, json), or a file named by `meta` (parquet, xlsx)."""
    data = table_bytes(frame, fmt, meta)
    if output is None and fmt in ("parquet", "xlsx"):
        output = Path(file_name(name, meta, fmt))
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        print(f"wrote {frame.height} row(s) of {name} to {output}", file=sys.stderr)


def _demo(args: argparse.Namespace) -> int:
    from opslens.demo import generate, write_files

    path = config.db_path(args.db)
    if path.exists() and not args.replace:
        print(
            f"opslens demo: {path} already exists; use --replace to start it afresh or --db for another store",
            file=sys.stderr,
        )
        return EXIT_ERROR
    end = args.end or dt.date.today() - dt.timedelta(days=1)
    data = generate(seed=args.seed, orders=args.orders, days=args.days, markets=args.markets, end=end)
    with tempfile.TemporaryDirectory() as folder:
        files = write_files(data, Path(folder))
        names = [f.name for f in files]  # the log names the files, not the temporary folder
        if path.exists():  # build beside it, then swap it in whole: viewers never see a half-built store
            fresh = Path(folder) / "demo.duckdb"
            result = ingest_files(fresh, files, names=names)
            writer.install(path, fresh)
        else:
            result = ingest_files(path, files, names=names)
    print(
        f"demo store {path}: {result.snapshot_rows} snapshot rows, {len(result.markets)} markets, "
        f"{len(result.rows_by_date)} snapshot dates up to {max(result.rows_by_date)}"
    )
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    with writer.draft(config.db_path(args.db), on_wait=_tell, verify=True):
        pass  # a draft is checked (every block read) and migrated when opened
    print(f"store {config.db_path(args.db)} is at the current schema")
    return EXIT_OK


def _backup(args: argparse.Namespace) -> int:
    store = config.db_path(args.db)
    rows = writer.backup(store, args.target)
    size = args.target.stat().st_size / 1e6
    print(f"backed up {store} to {args.target} ({size:,.1f} MB, {rows:,} snapshot rows; the copy opens and reads)")
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    store = config.db_path(args.db)
    writer.install(store, args.source)
    print(f"restored {store} from {args.source}; viewers see it on their next interaction")
    return EXIT_OK


def _digest(args: argparse.Namespace) -> int:
    from opslens.digest import run, settings

    if args.group and not args.as_user:
        raise config.ConfigError("--group needs --as EMAIL (the user the groups belong to)")
    digest_settings = settings.digest_settings()
    smtp = settings.smtp_settings() if args.send else None
    if args.send and not digest_settings.sender:
        raise config.ConfigError(f"{digest_settings.source}: [digest] sender is not set: the From address")
    if args.as_user:
        recipients = [settings.Recipient(args.as_user, tuple(args.group))]
    elif digest_settings.recipients:
        recipients = list(digest_settings.recipients)
    else:
        raise config.ConfigError(f"{digest_settings.source}: [digest] recipients is empty: name them, or use --as")
    plan = run.Plan(
        store=config.db_path(args.db),
        recipients=recipients,
        as_of=args.as_of,
        output=args.output or (None if args.send else Path(".")),
        send=args.send,
        skip_unchanged=args.skip_unchanged,
    )
    outcomes = run.run(plan, digest_settings, smtp, run.granted_markets, on_warning=lambda m: _tell(f"warning: {m}"))
    print(run.summary(outcomes))
    for outcome in outcomes:
        if outcome.status == run.FAILED:
            print(f"opslens digest: {outcome.email}: {outcome.detail}", file=sys.stderr)
    if args.as_user and outcomes[0].status == run.NO_ACCESS:
        return EXIT_NO_ACCESS  # as `opslens export --as` for a user without access
    return EXIT_PARTIAL if any(o.status == run.FAILED for o in outcomes) else EXIT_OK


def _tell(message: str) -> None:
    print(printable(f"opslens: {message}"), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
