"""The demo desk: deterministic, realistic, encrypted at rest, and whole after a SIGKILL."""

import ast
import datetime
import os
import pkgutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recdesk.demo import builder, synthetic
from recdesk.desk import Desk
from recdesk.patients.registry import decrypt
from recdesk.vault import audit
from recdesk.vault.models import Document, Patient
from tests.conftest import run_cli

SEED = 7
COUNT = 150


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo") / "home"
    result = run_cli("demo", "--patients", str(COUNT), "--seed", str(SEED), "--build-only", home=home)
    assert result.returncode == 0, result.stderr
    assert "built 150 / 150 patients" in result.stderr
    return home


def _people(desk):
    return sorted((p.mrn, p.last, p.first, p.dob) for p in (decrypt(desk, r) for r in Patient.select()))


def test_demo_builds_the_patients_with_documents_and_a_clean_doctor(demo_home):
    with Desk.open(demo_home):
        assert Patient.select().count() == COUNT
        assert Document.select().count() >= COUNT
        assert Patient.select().where(Patient.possible_duplicate).count() in range(0, 10)
    result = run_cli("doctor", home=demo_home)
    assert result.returncode == 0, result.stdout
    assert "150 patients' encrypted fields authenticate" in result.stdout


def test_the_same_seed_builds_the_same_patients(demo_home, tmp_path):
    desk = builder.build(tmp_path / "again", 40, SEED)
    try:
        again = _people(desk)
    finally:
        desk.close()
    with Desk.open(demo_home) as first:
        mrns = {p[0] for p in again}
        assert [p for p in _people(first) if p[0] in mrns] == again


def test_rerunning_demo_reuses_the_desk_and_a_new_seed_is_refused(demo_home):
    assert run_cli("demo", "--patients", str(COUNT), "--seed", str(SEED), "--build-only",
                   home=demo_home).returncode == 0
    other = run_cli("demo", "--patients", str(COUNT), "--seed", "8", "--build-only", home=demo_home)
    assert other.returncode == 2 and "--seed 7" in other.stderr


def test_demo_search_finds_a_demo_patient_by_name_and_mrn(demo_home):
    p = synthetic.patient(SEED, 3)
    import json

    rows = json.loads(run_cli("search", p.mrn, "--json", home=demo_home, check=True).stdout)
    assert rows[0]["mrn"] == p.mrn and rows[0]["last"] == p.last
    assert set(rows[0]) == {"mrn", "last", "first", "middle", "dob", "sex", "ssn_last4", "flags"}
    rows = json.loads(run_cli("search", f"{p.last},{p.first}", "--json", home=demo_home, check=True).stdout)
    assert p.mrn in [r["mrn"] for r in rows]


def _needles(p):
    values = {p.mrn, p.dob.isoformat(), p.dob.strftime("%m/%d/%Y"), "".join(c for c in p.phone if c.isdigit())}
    for name in (p.last, p.first):
        if len(name) >= 4:
            values |= {name, name.upper(), name.lower()}
    out = set()
    for v in values:
        out.add(v.encode("utf-8"))
        out.add(v.encode("utf-16-be"))
        try:
            out.add(v.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    # Ciphertext is random bytes: a 4-byte needle (b"jos\xe9") turns up by chance in megabytes of it (CI saw one
    # in the encrypted database). From 7 bytes, thousands of needles in the desk's ~20 MB match by chance about
    # once in a million runs; every identifier still has a needle that long (UTF-16, or MRN, DOB and phone).
    return {n for n in out if len(n) >= 7}


def test_no_plaintext_identifier_in_the_database_its_wal_or_the_store(demo_home):
    from recdesk.patients.registry import PatientDetails, register

    extra = PatientDetails(mrn="98765432", last="Quixotic-Plaintextson", first="Zephyrine",
                           dob=datetime.date(1944, 2, 29), phone="(512) 867-5309")
    with Desk.open(demo_home) as desk:
        register(desk, desk.sign_on("demo"), extra)
        wal = demo_home / "recdesk.db-wal"
        assert wal.exists() and wal.stat().st_size > 0  # read while the desk is open, before checkpoint
        files = [demo_home / "recdesk.db", wal, *sorted((demo_home / "store").rglob("*"))]
        blobs = [f.read_bytes() for f in files if f.is_file()]
    assert len(blobs) > COUNT
    people = [synthetic.patient(SEED, i) for i in range(COUNT)]
    needles = set().union(*(_needles(p) for p in people))
    needles |= {b"98765432", b"Quixotic", b"Zephyrine", b"1944-02-29", b"5128675309"}
    found = [(f, n) for f, data in zip(files, blobs, strict=False) for n in needles if n in data]
    assert found == []


def test_sigkill_in_the_middle_of_a_demo_build_leaves_a_desk_that_passes_doctor(tmp_path):
    home = tmp_path / "killed"
    cmd = [sys.executable, "-m", "recdesk.cli", "--home", str(home), "demo", "--patients", "2500",
           "--seed", "3", "--build-only"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.startswith("built 1,000"):
            break
    else:
        pytest.fail("the demo build never reported its first batch")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    doctor = run_cli("doctor", home=home)
    assert doctor.returncode == 0, doctor.stdout
    assert run_cli("audit", "verify", home=home).returncode == 0
    with Desk.open(home):
        built = Patient.select().count()
    assert built % 1000 == 0 and 1000 <= built < 2500  # whole batches only
    resumed = run_cli("demo", "--patients", "2500", "--seed", "3", "--build-only", home=home)
    assert resumed.returncode == 0, resumed.stderr
    with Desk.open(home) as desk:
        assert Patient.select().count() == 2500
        assert audit.verify(desk).intact


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from recdesk.desk import Desk
    from recdesk.documents.filing import file_document
    from recdesk.vault.models import Patient

    def slow_pdf():
        yield b"%PDF-1.7\\n" + b"x" * 200_000
        print("half written", flush=True)
        sys.stdin.readline()  # blocks until the test kills us
        yield b"never"

    desk = Desk.open(Path(sys.argv[1]))
    clerk = desk.sign_on("demo")
    with desk.write():
        file_document(desk, clerk, Patient.select().first(), slow_pdf(), doc_type="lab_result",
                      title="Killed mid-write", pages=1)
""")


def test_sigkill_during_a_document_write_leaves_no_visible_half_file(demo_home):
    with Desk.open(demo_home) as desk:
        documents_before = Document.select().count()
        files_before = desk.store.blob_ids()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(demo_home)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "half written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Desk.open(demo_home) as desk:
        assert Document.select().count() == documents_before
        assert desk.store.blob_ids() == files_before
        assert len(desk.store.stale_parts()) == 1
    doctor = run_cli("doctor", home=demo_home)
    assert doctor.returncode == 0, doctor.stdout
    assert "1 unfinished writes" in doctor.stdout


def test_demo_on_postgresql_builds_searches_and_passes_doctor(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("RECDESK_DB", pg_url)
    desk = builder.build(tmp_path / "pgdemo", 60, SEED)
    try:
        assert desk.is_postgres
        p = synthetic.patient(SEED, 5)
        from recdesk.patients.search import search

        hits = search(desk, desk.sign_on("demo"), p.mrn)
        assert [(h.patient.last, h.patient.first) for h in hits] == [(p.last, p.first)]
    finally:
        desk.close()
    monkeypatch.delenv("RECDESK_DB")
    result = run_cli("doctor", home=tmp_path / "pgdemo")
    assert result.returncode == 0, result.stdout
    assert "60 patients' encrypted fields authenticate" in result.stdout


def test_the_demo_has_work_for_every_screen_whatever_day_it_is_built(demo_home):
    from recdesk.paper import pulllist
    from recdesk.release import requests
    from recdesk.vault.models import Disclosure, Release

    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    with Desk.open(demo_home) as desk:
        clerk = desk.sign_on("demo")
        assert len(pulllist.build(desk, clerk, tomorrow)) >= 18  # F7: a pull list for tomorrow
        statuses = {r.status for r in Release.select()}
        assert {"on_hold", "in_progress", "released"} <= statuses  # F5: every stage
        held = [v for v in requests.queue(desk, clerk) if v.status == "on_hold"]
        assert {p.code for v in held for p in v.verdict.problems} >= {"A1", "A2", "L3"}
        # the released subpoena, and the retention worklist's public-health report (D2 warns of it)
        assert Disclosure.select().where(Disclosure.accountable == True).count() == 2  # noqa: E712


SCAN_HELD_BEFORE_RECORDING = textwrap.dedent("""
    import sys
    from pathlib import Path
    from recdesk.documents import intake
    from recdesk.desk import Desk

    desk = Desk.open(Path(sys.argv[1]))
    sync = desk.store.sync

    def held():  # every file of the batch is in the store; no row records it yet
        sync()
        print("stored, not recorded", flush=True)
        sys.stdin.readline()

    desk.store.sync = held
    report = intake.scan(desk, desk.sign_on("demo"))
    print(len(report.received) + len(report.quarantined), flush=True)
""")


def test_demo_refuses_to_tidy_the_store_while_a_scan_is_in_flight(tmp_path):
    home = tmp_path / "demo"
    run_cli("demo", "--patients", "12", "--seed", str(SEED), "--build-only", home=home, check=True)
    inbox = sorted(p.name for p in (home / "inbox").iterdir())
    scan = subprocess.Popen([sys.executable, "-c", SCAN_HELD_BEFORE_RECORDING, str(home)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert scan.stdout.readline().strip() == "stored, not recorded"
        with Desk.open(home) as desk:
            in_flight = desk.store.blob_ids() - {d.blob for d in Document.select(Document.blob)}
        assert len(in_flight) == len(inbox)
        again = run_cli("demo", "--patients", "12", "--seed", str(SEED), "--build-only", home=home)
        assert again.returncode == 2
        assert "(an intake scan is running): wait for it to finish, then try again" in again.stderr
        with Desk.open(home) as desk:
            assert in_flight <= desk.store.blob_ids()  # the scan's files are all still there
        scan.stdin.write("\n")
        scan.stdin.flush()
        assert scan.stdout.readline().strip() == str(len(inbox))
        assert scan.wait(timeout=60) == 0
    finally:
        scan.kill()
        scan.wait()
    doctor = run_cli("doctor", home=home)
    assert doctor.returncode == 0, doctor.stdout
    assert run_cli("demo", "--patients", "12", "--seed", str(SEED), "--build-only", home=home).returncode == 0


# --- the demo stays out of the production import path ----------------------------------------------------------------

def _demo_imports(source: str, package: str) -> list[tuple[int, bool]]:
    """(line, inside a function) of every import of recdesk.demo in the source of a module of `package`, relative
    imports resolved."""
    found: list[tuple[int, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in child.names]
            if any(t == "recdesk.demo" or t.startswith("recdesk.demo.") for t in targets):
                found.append((child.lineno, inside))
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def _recdesk_modules() -> dict[str, Path]:
    import recdesk

    root = Path(recdesk.__file__).parent
    out = {"recdesk": root / "__init__.py"}
    for info in pkgutil.walk_packages(recdesk.__path__, prefix="recdesk."):
        path = root.joinpath(*info.name.split(".")[1:])
        out[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return out


def test_the_demo_import_finder_sees_every_spelling_and_where_it_sits():
    source = textwrap.dedent("""\
        import recdesk.demo.builder
        from recdesk import demo
        from ..demo import synthetic
        from recdesk.demoware import x
        def cmd():
            from recdesk.demo import builder
    """)
    assert _demo_imports(source, "recdesk.paper") == [(1, False), (2, False), (3, False), (6, True)]


def test_nothing_outside_the_demo_package_imports_it_but_the_cli_demo_command_on_demand():
    modules = _recdesk_modules()
    assert {"recdesk.cli", "recdesk.desk", "recdesk.doctor", "recdesk.demo.synthetic"} <= set(modules)
    offenders = []
    for module, path in modules.items():
        if module == "recdesk.demo" or module.startswith("recdesk.demo."):
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, local in _demo_imports(path.read_text(), package):
            if not (module == "recdesk.cli" and local):
                offenders.append(f"{module}:{line}")
    assert offenders == [], "only `recdesk demo` may load the demo builder, inside its command: " + ", ".join(offenders)


def test_importing_the_cli_or_any_module_outside_the_demo_leaves_the_demo_package_unimported():
    """The runtime side of the source check: an import made by name (importlib) would show here."""
    others = [m for m in _recdesk_modules() if m != "recdesk.demo" and not m.startswith("recdesk.demo.")]
    code = textwrap.dedent(f"""\
        import importlib, sys
        def demo():
            return sorted(m for m in sys.modules if m == "recdesk.demo" or m.startswith("recdesk.demo."))
        import recdesk.cli
        print(demo())
        for module in {others!r}:
            importlib.import_module(module)
        print(demo())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "[]"]
