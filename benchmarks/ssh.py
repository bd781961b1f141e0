"""The SSH front door as a thin client sees it: time to a usable desk and bytes on the wire per key.

Run:  .venv/bin/python benchmarks/ssh.py [--home DIR | --patients N] [--runs R]

Starts `recdesk serve` on a free loopback port for a demo desk (default: the 10,000-patient desk that
benchmarks/tui.py builds or reuses), adds a clerk `bench` with a fresh SSH key, and drives the system's
OpenSSH client on an 80x24 pseudo-terminal (TERM=xterm-256color). Beside it, the same desk started
locally (`python -m recdesk.cli --home HOME`) on the same kind of pty. It reports:

1. start-up: from starting `ssh` (or the local process) until the last byte of the first paint of the
   search screen, median of R runs (no budget in the issue; the local figure is the floor);
2. bytes per typed key measured at the client's pty while typing `last,first` names key by key
   (what the SSH link carries once decrypted; the budget for the desk is 3 KB per key).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tui  # noqa: E402 - the shared pty measurements of benchmarks/tui.py

from recdesk import users  # noqa: E402
from recdesk.desk import Desk  # noqa: E402
from recdesk.serve.terminal import PtyProcess  # noqa: E402
from recdesk.vault.models import User  # noqa: E402


def ensure_clerk(home: Path) -> Path:
    key = home.parent / f"{home.name}-bench-ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with Desk.open(home) as desk:
        if not User.select().where(User.name == "bench").exists():
            users.add(desk, desk.sign_on("manager"), "bench", "clerk", ssh_keys=[key.with_suffix(".pub").read_text()])
    return key


def ssh_command(port: int, key: Path) -> list[str]:
    return ["ssh", "-p", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "bench@127.0.0.1"]


def run(argv: list[str], people) -> tuple[float, list[int]]:
    started = time.perf_counter()
    with PtyProcess(argv, env=tui.child_env(), rows=tui.ROWS, cols=tui.COLS) as p:
        paint, _ = tui.first_paint(p, started, b"Patient search")
        session = tui.Session()
        tui.measure_typing(p, session, people)
        code = tui.sign_off(p)
    if code != 0:
        raise RuntimeError(f"{argv[0]} exited {code}")
    return paint, session.per_char


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.home is None:
        args.home = tui.BENCH_DATA / f"desk-{tui.label(args.patients)}"
        tui.demo.build(args.home, args.patients, tui.SEED).close()
    key = ensure_clerk(args.home)
    people = [tui.synthetic.patient(tui.SEED, i) for i in (11, 222)]
    server = subprocess.Popen([sys.executable, "-m", "recdesk.cli", "--home", str(args.home), "serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1].split()[0])
        local = [sys.executable, "-m", "recdesk.cli", "--home", str(args.home)]
        results = {"local": [], "ssh": []}
        for _ in range(args.runs + 1):  # the first of each is a warm-up
            results["local"].append(run(local, people))
            results["ssh"].append(run(ssh_command(port, key), people))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("\n".join(tui.machine()))
    typed = ", ".join(f"{p.last},{p.first}" for p in people)
    print(f"desk: {args.home}; {args.runs} runs after a warm-up; typed {typed}")
    print(f"{'':<34} {'local pty':>12} {'ssh loopback':>14}")
    paints = {k: statistics.median(r[0] for r in v[1:]) for k, v in results.items()}
    chars = {k: [b for r in v[1:] for b in r[1]] for k, v in results.items()}
    print(f"{'start-up to search screen (median)':<34} {1000 * paints['local']:>9.0f} ms "
          f"{1000 * paints['ssh']:>11.0f} ms")
    print(f"{'bytes per typed key, mean':<34} {statistics.mean(chars['local']):>10,.0f} B "
          f"{statistics.mean(chars['ssh']):>12,.0f} B")
    print(f"{'bytes per typed key, max':<34} {max(chars['local']):>10,} B {max(chars['ssh']):>12,} B  (budget 3,000 B)")


if __name__ == "__main__":
    os.environ.setdefault("TERM", "xterm-256color")
    main()
