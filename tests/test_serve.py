"""Ops Lens as an installed product: the wheel holds everything the app needs, and `opslens serve`
serves every page from any folder with production defaults (no usage statistics, no Deploy button)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from browser_support import CHROMIUM, EXCEPTION, PAGES, app_server, launch_browser, new_context, open_page

from opslens.serve import PRODUCTION_OPTIONS, command

ROOT = Path(__file__).resolve().parent.parent


def test_the_clone_config_has_the_same_production_defaults_as_serve():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    flat = {
        f"{section}.{key}": str(value).lower()
        for section, values in config.items() for key, value in values.items()
    }
    assert flat == PRODUCTION_OPTIONS


def test_serve_runs_the_packaged_app_with_the_defaults_then_the_passed_options():
    argv = command(8600, "127.0.0.1", ["--server.maxUploadSize", "500"])
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(argv[4]) == ROOT / "opslens" / "app" / "main.py"
    assert argv[5:] == [
        *(part for key, value in PRODUCTION_OPTIONS.items() for part in (f"--{key}", value)),
        "--server.port",
        "8600",
        "--server.address",
        "127.0.0.1",
        "--server.maxUploadSize",
        "500",
    ]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Ops Lens built as a wheel and installed (not editable) into a fresh virtual environment; its python."""
    folder = tmp_path_factory.mktemp("installed")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), str(ROOT)], check=True)
    (wheel,) = folder.glob("opslens-*.whl")
    venv.create(folder / "venv", with_pip=True)
    python = folder / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    return python


def _run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OPSLENS_DB", "OPSLENS_CONFIG", "PYTHONPATH")}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_adds_no_top_level_name_but_opslens(installed, tmp_path):
    found = _run(installed, "-c", "import opslens.queries, opslens.pages; import queries", cwd=tmp_path)
    assert "No module named 'queries'" in found.stderr  # nothing shadows another distribution's `queries`
    shipped = _run(installed, "-c", "from opslens.queries import DATASETS; print(len(DATASETS))", cwd=tmp_path)
    assert shipped.returncode == 0 and int(shipped.stdout) >= 17


@pytest.mark.browser
def test_the_installed_app_serves_every_page_from_another_folder(installed, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    demo = _run(installed.with_name("opslens"), "demo", "--db", "demo.duckdb", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    with app_server(tmp_path / "demo.duckdb", python=installed, cwd=tmp_path) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            context = new_context(browser, base_url=url)
            page = context.new_page()
            for _name, path, title, charts in PAGES:
                open_page(page, path, charts=charts, timeout=90_000)
                assert page.locator(EXCEPTION).count() == 0, title
                assert page.get_by_role("heading", name=title, exact=True).count() == 1, title
            assert page.get_by_role("button", name="Deploy").count() == 0
            assert page.get_by_text("usage statistics").count() == 0
            context.close()
        finally:
            browser.close()
