"""An installed desk finds its reference data and its command: the wheel carries data/, screens/ and the demo's
tables, and a demo desk builds from the wheel's files alone."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from recdesk import reference

DEMO_TABLES = ("names", "places", "encounters", "clinical")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), "."],
                   check=True, capture_output=True, cwd=reference.data_dir().parent)
    (built,) = out.glob("recdesk-*.whl")
    return built


def test_wheel_carries_the_reference_data_the_screens_and_the_console_script(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "recdesk/_data/document_types.toml" in names
    assert "recdesk/_data/retention.toml" in names
    assert "screens/__init__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "recdesk = recdesk.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_carries_the_demo_tables_and_a_demo_desk_builds_from_its_files(wheel, tmp_path):
    """`recdesk demo` after `pip install`: the wheel unpacked (what an install puts in site-packages) is the only
    recdesk on the path, so the demo's tables come from the wheel or the build fails."""
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"recdesk/demo/tables/{t}.toml" for t in DEMO_TABLES} <= set(names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # the repository's own checkout stays off the path: no PYTHONPATH, no working directory under it
    env = {k: v for k, v in os.environ.items() if k not in ("RECDESK_DB", "RECDESK_HOME", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run([sys.executable, "-c", "import recdesk.demo.synthetic as s; print(s.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert Path(where.stdout.strip()).is_relative_to(site)
    built = subprocess.run([sys.executable, "-m", "recdesk.cli", "--home", str(tmp_path / "home"), "demo",
                            "--patients", "20", "--seed", "3", "--build-only"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "demo desk ready: 20 patients, seed 3" in built.stderr + built.stdout


def test_reference_data_loads_and_a_site_copy_wins(tmp_path):
    shipped = reference.load("document_types")
    assert {"discharge_summary", "psychotherapy_note"} <= {t["code"] for t in shipped["type"]}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "document_types.toml").write_text('[[type]]\ncode = "site_only"\nlabel = "Site"\n')
    assert [t["code"] for t in reference.load("document_types", tmp_path)["type"]] == ["site_only"]
