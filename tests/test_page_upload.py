"""Loading files in the app: `opslens.app.upload` and the Data health page's "Load snapshot files".

The store under test is built from the committed sample extract (data/sample/) without its last
snapshot date, 2026-11-20; the uploads are that date's rows, as the contract CSV files they are.
Each test works on its own copy of the store file. The sample has 38 rows on 2026-11-20 (EAST,
NORTH, SOUTH) and 3 footprint rows (one per market).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import shutil
import tempfile
import uuid
from pathlib import Path

import polars as pl
import pytest
from apptest_harness import ROOT, assert_no_exception, main_captions, page_app, rerun, table

from opslens import config
from opslens.app import upload
from opslens.app.upload import MB, UploadOutcome, load_uploads, safe_name
from opslens.ingest import ingest_files
from opslens.queries import dataset, snapshot_dates
from opslens.store import StoreError

SAMPLE = ROOT / "data" / "sample"
LAST, BEFORE = dt.date(2026, 11, 20), dt.date(2026, 11, 19)
LAST_ROWS = 38  # rows of the sample dated 2026-11-20 (checked in `sample_parts`)
MARKETS = ["EAST", "NORTH", "SOUTH"]


def _split(path: Path) -> tuple[str, str]:
    """(the file without its 2026-11-20 rows, a file of the header and those rows)."""
    header, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    older = [line for line in lines if not line.startswith(LAST.isoformat())]
    last = [line for line in lines if line.startswith(LAST.isoformat())]
    return header + "".join(older), header + "".join(last)


@pytest.fixture(scope="module")
def sample_parts() -> dict[str, str]:
    snapshots_before, snapshots_last = _split(SAMPLE / "snapshots.csv")
    footprint_before, footprint_last = _split(SAMPLE / "footprint.csv")
    assert len(snapshots_last.splitlines()) == 1 + LAST_ROWS
    assert len(footprint_last.splitlines()) == 1 + len(MARKETS)
    return {
        "snapshots_before": snapshots_before,
        "snapshots_last": snapshots_last,
        "footprint_before": footprint_before,
        "footprint_last": footprint_last,
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory, sample_parts) -> Path:
    """A store with the sample up to 2026-11-19 (one ingest). Copied, never written, by the tests."""
    folder = tmp_path_factory.mktemp("upload_template")
    files = []
    for name in ("snapshots_before", "footprint_before"):
        files.append(folder / f"{name}.csv")
        files[-1].write_text(sample_parts[name], encoding="utf-8")
    db = folder / "template.duckdb"
    ingest_files(db, files)
    return db


@pytest.fixture
def db(template, tmp_path, monkeypatch) -> Path:
    """This test's own copy of the store, with no opslens.toml (the defaults)."""
    path = tmp_path / "store" / "opslens.duckdb"
    path.parent.mkdir()
    shutil.copy(template, path)
    monkeypatch.setenv("OPSLENS_CONFIG", str(tmp_path / "no-such-opslens.toml"))
    return path


@pytest.fixture
def day(sample_parts) -> bytes:
    return sample_parts["snapshots_last"].encode("utf-8")


def with_bad_stage(content: bytes, data_row: int, stage: str) -> bytes:
    """The CSV with one data row's stage replaced (rows counted from 1 after the header)."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    rows[data_row][rows[0].index("stage")] = stage
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def write_config(monkeypatch, directory: Path, text: str) -> None:
    path = directory / "opslens.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("OPSLENS_CONFIG", str(path))


def state(db: Path, ingest_times: bool = True) -> dict[str, object]:
    """What a rejected load must leave exactly as it was (the ingest log aside)."""
    freshness = dataset("freshness", db=db)
    return {
        "dates": snapshot_dates(db),
        "freshness": (freshness if ingest_times else freshness.drop("last_ingest_at")).to_dicts(),
        "orders": dataset("orders", db=db).to_dicts(),
        "readiness": dataset("readiness", db=db).to_dicts(),
    }


def ingests(db: Path) -> pl.DataFrame:
    return dataset("ingest_log", db=db)


# --- file names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("snapshots.csv", "snapshots.csv"),
        ("../../etc/snapshots.csv", "snapshots.csv"),
        ("/abs/path/day.csv.gz", "day.csv.gz"),
        ("C:\\exports\\2026\\day.parquet", "day.parquet"),
        ("  spaced name.csv ", "spaced name.csv"),
        ("bell\x07.csv", "bell.csv"),
        ("dir/", None),
        ("..", None),
        ("a/..", None),
        ("", None),
        ("x" * 252 + ".csv", None),  # 256 bytes: longer than a file name may be
    ],
)
def test_safe_name_keeps_only_the_base_name(name, safe):
    assert safe_name(name) == safe


# --- load_uploads on a real store -----------------------------------------------------------------


def test_valid_csv_loads_and_the_data_changes(db, day, sample_parts):
    assert snapshot_dates(db)[0] == BEFORE
    before = {r["market"]: r["latest_snapshot_date"] for r in dataset("freshness", db=db).to_dicts()}
    assert before == {"EAST": dt.date(2026, 11, 18), "NORTH": BEFORE, "SOUTH": BEFORE}  # EAST's 11-19 is missing

    footprint = gzip.compress(sample_parts["footprint_last"].encode("utf-8"))
    outcome = load_uploads(db, [("day.csv", day), ("footprint.csv.gz", footprint)])

    assert outcome.status == "loaded" and outcome.loaded and not outcome.problems
    assert outcome.result.rows_by_date == {LAST: LAST_ROWS}
    assert outcome.result.footprint_rows == 3
    assert outcome.result.markets == MARKETS
    assert outcome.message == outcome.result.summary()
    assert outcome.message.startswith(f"loaded {LAST_ROWS} snapshot row(s) and 3 footprint row(s) from 2 file(s)")
    assert snapshot_dates(db)[0] == LAST
    freshness = dataset("freshness", db=db)
    assert freshness.select("market", "latest_snapshot_date", "days_behind").to_dicts() == [
        {"market": m, "latest_snapshot_date": LAST, "days_behind": 0} for m in MARKETS
    ]
    assert freshness["rows"].sum() == LAST_ROWS
    log = ingests(db)
    assert log.height == 2 and log["outcome"][0] == "loaded"


def test_loading_the_same_upload_twice_changes_nothing(db, day):
    assert load_uploads(db, [("day.csv", day)]).loaded
    once = state(db, ingest_times=False)
    assert load_uploads(db, [("day.csv", day)]).loaded
    assert state(db, ingest_times=False) == once


def test_bad_value_is_rejected_with_file_row_column_value_and_store_unchanged(db, day, sample_parts):
    before = state(db)
    bad = with_bad_stage(day, 3, "shipped")
    footprint = sample_parts["footprint_last"].encode("utf-8")

    outcome = load_uploads(db, [("footprint.csv", footprint), ("day.csv", bad)])

    assert outcome.status == "rejected" and not outcome.loaded
    assert outcome.message == "The files were rejected, nothing was loaded (1 problem(s)):"
    assert len(outcome.problems) == 1
    problem = outcome.problems[0]
    assert {k: problem[k] for k in ("file", "row", "column", "value")} == {
        "file": "day.csv",  # the uploaded name, not the temporary copy's path
        "row": 3,
        "column": "stage",
        "value": "shipped",
    }
    assert "allowed: intake, awaiting_network" in problem["message"]
    assert outcome.problem_table().columns == ["file", "row", "column", "value", "message"]
    # all or nothing: the valid footprint file was not loaded either
    assert state(db) == before
    log = ingests(db)
    assert log["outcome"].to_list() == ["rejected", "loaded"]


def test_over_the_limit_is_refused_naming_files_and_limit(db, day, monkeypatch, tmp_path):
    write_config(monkeypatch, tmp_path, "[upload]\nmax_mb = 1\n")
    before, log_before = state(db), ingests(db)
    padding = b"x" * MB  # with day.csv, just over 1 MB

    outcome = load_uploads(db, [("day.csv", day), ("padding.csv", padding)])

    assert outcome.status == "rejected"
    assert "over the limit of 1 MB" in outcome.message
    assert "day.csv (0.0 MB)" in outcome.message and "padding.csv (1.0 MB)" in outcome.message
    assert "nothing was loaded" in outcome.message
    assert state(db) == before
    assert ingests(db).to_dicts() == log_before.to_dicts()  # not even attempted
    # the limit is on the total: day.csv alone is within it
    assert load_uploads(db, [("day.csv", day)], limit_mb=1).loaded


def test_path_in_the_file_name_is_removed(db, day):
    escape = f"escape-{uuid.uuid4().hex}.csv"
    outside = Path(tempfile.gettempdir()) / escape

    outcome = load_uploads(db, [(f"../../{escape}", day)])

    assert outcome.loaded
    assert not outside.exists()  # nothing was written next to (or above) the upload folder
    assert outcome.result.files == [f"{escape} (uploaded)"]  # the ingest log names the upload, not a temp path
    assert not list(Path(tempfile.gettempdir()).glob(f"opslens-upload-*/{escape}"))  # the temporary copies are gone
    assert snapshot_dates(db)[0] == LAST


def test_names_that_clash_or_are_unusable_are_refused(db, day):
    before = state(db)
    outcome = load_uploads(db, [("north/day.csv", day), ("south\\day.csv", day), ("..", day)])
    assert outcome.status == "rejected"
    assert "nothing was loaded" in outcome.message
    assert [(p["file"], p["message"]) for p in outcome.problems] == [
        ("..", "has no usable file name; rename the file"),
        ("day.csv", "was uploaded more than once (folders are ignored); remove the extra copy"),
    ]
    assert state(db) == before


def test_no_files(db):
    assert load_uploads(db, []) == UploadOutcome("rejected", "No files were chosen; nothing was loaded.")


def test_store_error_is_reported_not_raised(db, day, monkeypatch):
    class Busy(StoreError):  # like the writer's StoreBusy
        pass

    def busy(db, files, **options):
        raise Busy("the store is still being written by another ingest after 600 s")

    monkeypatch.setattr(upload, "ingest_files", busy)
    outcome = load_uploads(db, [("day.csv", day)])
    assert outcome.status == "error"
    assert outcome.message == "the store is still being written by another ingest after 600 s. Nothing was loaded."


def test_unexpected_failure_is_reported_not_raised(db, day, monkeypatch):
    def broken(db, files, **options):
        raise RuntimeError("boom")

    monkeypatch.setattr(upload, "ingest_files", broken)
    outcome = load_uploads(db, [("day.csv", day)])
    assert outcome.status == "error"
    assert outcome.message.startswith("Loading failed unexpectedly (RuntimeError: boom).")


# --- config -------------------------------------------------------------------------------------


def test_upload_settings_default(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSLENS_CONFIG", str(tmp_path / "none.toml"))
    assert config.upload_enabled() is True
    assert config.upload_limit_mb() == 200


def test_upload_settings_from_the_file_with_the_stall_limits(monkeypatch, tmp_path):
    write_config(monkeypatch, tmp_path, "[stalled_after_days]\nintake = 5\n\n[upload]\nenabled = false\nmax_mb = 50\n")
    assert config.upload_enabled() is False
    assert config.upload_limit_mb() == 50
    assert config.stall_limits()["intake"] == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[upload]\nmax_mb = '200'\n", "[upload] max_mb must be a whole number of megabytes > 0, got '200'"),
        ("[upload]\nmax_mb = 0\n", "[upload] max_mb must be a whole number of megabytes > 0, got 0"),
        ("[upload]\nmax_mb = 2.5\n", "got 2.5"),
        ("[upload]\nmax_mb = true\n", "got True"),
        ("[upload]\nenabled = 'no'\n", "[upload] enabled must be true or false, got 'no'"),
        ("[upload]\nmax_size = 10\n", "[upload] has no setting 'max_size'; allowed: enabled, max_mb"),
        ("upload = 5\n", "'upload' must be a table ([upload]), got 5"),
        ("[upload\n", "not valid TOML"),
    ],
)
def test_upload_settings_are_checked(monkeypatch, tmp_path, text, message):
    write_config(monkeypatch, tmp_path, text)
    for read in (config.upload_enabled, config.upload_limit_mb):
        with pytest.raises(config.ConfigError) as error:
            read()
        assert message in str(error.value)
        assert str(tmp_path / "opslens.toml") in str(error.value)


# --- the section on the Data health page (AppTest) ---------------------------------------------------


def health(db: Path, monkeypatch, config_text: str | None = None):
    at = page_app("data_health", db, monkeypatch)
    if config_text is not None:
        write_config(monkeypatch, db.parent, config_text)
    return rerun(at)


def successes(at) -> list[str]:
    return [s.value for s in at.main.success]


def errors(at) -> list[str]:
    return [e.value for e in at.main.error]


def test_section_renders_with_the_uploader_and_a_disabled_load_button(db, monkeypatch):
    at = health(db, monkeypatch)
    assert [e.label for e in at.main.expander] == ["Load snapshot files"]
    [uploader] = at.main.file_uploader
    assert uploader.accept_multiple_files
    assert uploader.allowed_type == [".csv", ".gz", ".parquet"]
    assert uploader.proto.max_upload_size_mb == 200
    assert at.button(key="health-upload-load").disabled  # nothing chosen yet
    assert any("up to 200 MB together" in c for c in main_captions(at))


def test_section_uses_the_configured_limit(db, monkeypatch):
    at = health(db, monkeypatch, "[upload]\nmax_mb = 50\n")
    assert at.main.file_uploader[0].proto.max_upload_size_mb == 50
    assert any("up to 50 MB together" in c for c in main_captions(at))


def test_section_is_hidden_when_turned_off(db, monkeypatch):
    at = health(db, monkeypatch, "[upload]\nenabled = false\n")
    assert not at.main.expander and not at.main.file_uploader
    assert not [b for b in at.button if b.key == "health-upload-load"]
    assert any("turned off in opslens.toml" in c for c in main_captions(at))
    assert at.main.dataframe  # the rest of the page is there


def test_section_explains_a_bad_setting_without_a_traceback(db, monkeypatch):
    at = health(db, monkeypatch, "[stalled_after_days]\nintake = 3\n[upload]\nmax_mb = 'lots'\n")
    assert_no_exception(at)
    assert not at.main.file_uploader
    [error] = errors(at)
    assert error.startswith("Loading files in the app is unavailable:") and "[upload] max_mb" in error


def choose(at, *files: tuple[str, bytes]):
    at.main.file_uploader[0].set_value([(name, content, "text/csv") for name, content in files])
    rerun(at)
    assert not at.button(key="health-upload-load").disabled
    at.button(key="health-upload-load").click()
    return rerun(at)


def test_load_in_the_app_shows_the_summary_and_the_new_data(db, day, monkeypatch):
    at = health(db, monkeypatch)
    assert at.selectbox(key="as_of").options[0] == BEFORE.isoformat()

    choose(at, ("exports/day.csv", day))

    [summary] = [s for s in successes(at) if s.startswith("loaded")]
    assert summary.startswith(f"loaded {LAST_ROWS} snapshot row(s) and 0 footprint row(s) from 1 file(s)")
    assert f"markets: {', '.join(MARKETS)}" in summary and f"{LAST}: {LAST_ROWS} row(s)" in summary
    assert not errors(at)
    # the page (sidebar included) now reads the new store
    assert at.selectbox(key="as_of").options[0] == LAST.isoformat()
    assert table(at, 0, ["market", "latest_snapshot_date"]) == [
        {"market": m, "latest_snapshot_date": f"{LAST}T00:00:00"} for m in MARKETS
    ]
    log = table(at, len(at.main.dataframe) - 1, ["outcome", "files"])
    assert log[0]["outcome"] == "loaded" and log[0]["files"] == "day.csv (uploaded)"
    # the uploader starts empty again, and the message is shown once
    assert at.main.file_uploader[0].value == []
    assert at.button(key="health-upload-load").disabled
    rerun(at)
    assert not [s for s in successes(at) if s.startswith("loaded")]


def test_rejected_load_in_the_app_lists_every_problem_and_changes_nothing(db, day, sample_parts, monkeypatch):
    before = state(db)
    at = health(db, monkeypatch)
    tables = len(at.main.dataframe)
    # the footprint's 2nd data row (NORTH) with a negative premises_ready
    header, first, second, third = sample_parts["footprint_last"].splitlines()
    fields = second.split(",")
    bad_footprint = "\n".join([header, first, ",".join([*fields[:3], "-5"]), third]) + "\n"

    choose(at, ("day.csv", with_bad_stage(day, 3, "shipped")), ("footprint.csv", bad_footprint.encode()))

    assert_no_exception(at)
    assert errors(at)[-1] == "The files were rejected, nothing was loaded (2 problem(s)):"
    assert len(at.main.dataframe) == tables + 1
    assert table(at, tables, ["file", "row", "column", "value"]) == [
        {"file": "day.csv", "row": 3, "column": "stage", "value": "shipped"},
        {"file": "footprint.csv", "row": 2, "column": "premises_ready", "value": "-5"},
    ]
    assert state(db) == before
    assert not [s for s in successes(at) if s.startswith("loaded")]


def test_over_the_limit_in_the_app_is_refused(db, day, monkeypatch):
    before = state(db)
    at = health(db, monkeypatch, "[upload]\nmax_mb = 1\n")
    choose(at, ("day.csv", day), ("padding.csv", b"x" * MB))
    [error] = [e for e in errors(at) if "limit" in e]
    assert "over the limit of 1 MB" in error and "day.csv" in error and "padding.csv" in error
    assert "nothing was loaded" in error
    assert state(db) == before
