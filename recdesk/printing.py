"""Printing from the desk: a PDF goes to the site's print command, or to the desk's print folder."""

from __future__ import annotations

import datetime
import os
import shlex
import subprocess
from pathlib import Path

from recdesk.errors import DeskError


def send(desk, pdf: bytes, name: str) -> str:
    """Print a PDF; returns where it went, in words for the clerk.

    With `[print] command = "lp -d HIM-LASER"` in config.toml the PDF is piped to that command (a clerk on
    a thin client has no printer of their own). Without one it is written, owner-only, to
    <home>/printouts/, for the site to pick up; that folder holds PHI in the clear and should be emptied.
    """
    command = desk.config.extra.get("print", {}).get("command", "")
    if command:
        try:
            done = subprocess.run(shlex.split(command), input=pdf, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeskError(f"the print command {command!r} failed ({exc}): check [print] command") from None
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()[:1]
            raise DeskError(f"the print command {command!r} refused the job: {' '.join(message) or done.returncode}")
        return f"sent to {command.split()[0]}"
    folder = desk.config.home / "printouts"
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(folder) / f"{stamp}-{name}.pdf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pdf)
    return f"saved as {path} (no [print] command is set)"
