"""The house rules of the layout, checked: the engine the queries stand on never imports them back
(no import cycle), the query layer never imports Streamlit, and pages never run SQL themselves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_the_engine_under_the_queries_does_not_import_them():
    loaded = _loaded_after("import opslens.config, opslens.contract, opslens.store")
    assert not {m for m in loaded if m == "queries" or m.startswith(("queries.", "opslens.queries"))}


def test_the_query_layer_never_imports_streamlit():
    assert "streamlit" not in _loaded_after("import opslens.queries")


def test_the_cli_starts_without_streamlit():
    assert "streamlit" not in _loaded_after("import opslens.cli")


def test_pages_never_run_sql():
    for page in (ROOT / "pages").glob("*.py"):
        text = page.read_text(encoding="utf-8")
        assert "duckdb" not in text and ".sql(" not in text, page.name


def test_in_a_clone_the_spec_s_import_works_from_the_root():
    # SPEC §3 writes `from queries import dataset`: the clone's top-level queries/ is that package
    code = "from queries import dataset, DATASETS; import opslens.queries as q; print(len(DATASETS) == len(q.DATASETS))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
