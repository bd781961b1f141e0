"""The core never imports textual: the CLI and services must not pay for (or depend on) the UI."""

import subprocess
import sys

import pytest

CORE = ["recdesk.cli", "recdesk.desk", "recdesk.search", "recdesk.patients", "recdesk.audit", "recdesk.doctor",
        "recdesk.demo", "recdesk.store", "recdesk.users", "recdesk.documents", "recdesk.display"]


@pytest.mark.parametrize("module", CORE)
def test_core_module_leaves_textual_unimported(module):
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_textual_is_importable_for_the_screens():
    out = subprocess.run([sys.executable, "-c", "import textual, screens; print(textual.__version__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("8.2")
