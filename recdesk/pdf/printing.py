"""Printing from the desk: a PDF goes to the site's print command, or to the desk's print folder."""

from __future__ import annotations

import datetime
import os
import secrets
import shlex
import subprocess
from pathlib import Path

from recdesk.errors import DeskError

# What a printout may be called: its kind only. A name never carries an MRN, a patient's name or an id that
# leads to one, since file names show in listings, backups and the print spooler's logs.
PRINTOUT_KINDS = ("accounting", "certificate", "chart", "coversheet", "deficiency-letter", "letter", "packet",
                  "pull-list")


def send(desk, pdf: bytes, kind: str) -> str:
    """Print a PDF of one of PRINTOUT_KINDS; returns where it went, in words for the clerk.

    With `[print] command = "lp -d HIM-LASER"` in config.toml the PDF is piped to that command (a clerk on
    a thin client has no printer of their own). Without one it is written, owner-only, to
    <home>/printouts/<time>-<kind>.pdf, for the site to pick up; that folder holds PHI in the clear and should
    be emptied.
    """
    if kind not in PRINTOUT_KINDS:
        raise ValueError(f"printout kind {kind!r} is not one of {PRINTOUT_KINDS}")
    command = desk.config.print.command
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
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        path, fd = _new_file(Path(folder), f"{stamp}-{kind}")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pdf)
        except OSError:
            path.unlink(missing_ok=True)  # no half-written printout left behind
            raise
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise DeskError(f"cannot save the printout in {folder} ({why}): make sure it is a folder the desk may write "
                        "to with space free, or set [print] command in config.toml") from None
    return f"saved as {path} (no [print] command is set)"


def _new_file(folder: Path, stem: str) -> tuple[Path, int]:
    """A new owner-only file <stem>.pdf, or <stem>-2.pdf, -3 ... when that name is taken (the same printout
    twice in one second); never opens a file that is already there."""
    for n in range(1, 1000):
        path = folder / (f"{stem}.pdf" if n == 1 else f"{stem}-{n}.pdf")
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
    path = folder / f"{stem}-{secrets.token_hex(4)}.pdf"
    return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
