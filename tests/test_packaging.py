"""An installed desk finds its reference data and its command: the wheel carries data/ and screens/."""

import subprocess
import sys
import zipfile

from recdesk import reference


def test_wheel_carries_the_reference_data_the_screens_and_the_console_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
                   check=True, capture_output=True, cwd=reference.data_dir().parent)
    (wheel,) = tmp_path.glob("recdesk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "recdesk/_data/document_types.toml" in names
    assert "recdesk/_data/retention.toml" in names
    assert "screens/__init__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "recdesk = recdesk.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_reference_data_loads_and_a_site_copy_wins(tmp_path):
    shipped = reference.load("document_types")
    assert {"discharge_summary", "psychotherapy_note"} <= {t["code"] for t in shipped["type"]}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "document_types.toml").write_text('[[type]]\ncode = "site_only"\nlabel = "Site"\n')
    assert [t["code"] for t in reference.load("document_types", tmp_path)["type"]] == ["site_only"]
