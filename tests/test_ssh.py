"""The deployment over SSH, end to end: a real sshd on 127.0.0.1, one key per staff member in
the service account's authorized_keys with `restrict,pty,command="ketnap --db DB --user NAME"`.

The test's own login is the service account (it owns the database, as `ketnap demo` creates
it); sshd runs as that login too, so this works unprivileged as well as as root (the terminal
test needs root where /dev/pts gives new ptys no tty group: it says so when it skips). Skips with
a reason where sshd, ssh or ssh-keygen is missing; under CI (KETNAP_CI=1, set by .ci/run) that is
a failure instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ssh_helpers import (LOGIN, SSH, authorized_line, make_key, missing_programs, pty_problem,
                               running_sshd)
from tests.tmux_helpers import Terminal, require_tmux


if missing_programs():
    missing = ", ".join(missing_programs())
    if os.environ.get("KETNAP_CI"):
        pytest.fail(f"{missing} required in CI (.ci/run installs openssh)", pytrace=False)
    pytest.skip(f"{missing} not installed", allow_module_level=True)

BRANCH = "NS-NP-07"  # Chi bộ Tổ dân phố Phiêng Luông, in Nà Phặc
BRANCH_NAME = "Chi bộ Tổ dân phố Phiêng Luông"
DISTRICT_NAME = "Đảng bộ huyện Ngân Sơn"


def _ketnap_command() -> list[str]:
    script = Path(sys.executable).parent / "ketnap"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui.cli"]


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("KETNAP_")}


def _ketnap(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*_ketnap_command(), "--db", str(db), *args], capture_output=True, text=True,
                          env=_clean_env(), check=check, timeout=60)


@dataclass
class Server:
    port: int
    db: Path
    dir: Path
    keys: dict[str, Path]
    known_hosts: Path
    log: Path

    def ssh_args(self, key: str, *options: str) -> list[str]:
        return [SSH, "-F", "/dev/null", "-p", str(self.port), "-i", str(self.keys[key]),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "ConnectTimeout=10",
                "-o", "LogLevel=ERROR", *options, f"{LOGIN}@127.0.0.1"]

    def ssh(self, key: str, *command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """`ssh -i KEY server COMMAND...` without a terminal, as a script or a pipe would."""
        # `--` ends ssh's own options: ssh parses them after the destination too
        return subprocess.run([*self.ssh_args(key), "--", *command], input=stdin, capture_output=True,
                              text=True, timeout=60, stdin=None if stdin is not None else subprocess.DEVNULL)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("ssh")
    db = base / "ketnap.sqlite3"
    # the database as an operator sets it up: the demo, staff accounts, then no longer a demo
    _ketnap(db, "demo")
    for name, role, unit in (("alice", "secretary", BRANCH), ("bob", "organiser", "NS"),
                             ("carol", "viewer", "NS")):
        _ketnap(db, "--user", "demo_admin", "users", "add", name, "--role", role, "--unit", unit)
    # `demo` made this login an administrator; take that away, so that `--user` below is
    # honoured only because this login owns the database (the service account)
    _ketnap(db, "--user", "demo_admin", "users", "disable", LOGIN)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM setting WHERE key = 'demo'")
    con.close()
    assert _ketnap(db, "whoami", check=False).returncode == 1

    from db import connection
    if connection.service_account(str(db)) != LOGIN:
        pytest.skip(f"a ketnap.toml on this machine names service account "
                    f"{connection.service_account(str(db))!r}, not this login {LOGIN!r}")

    keys = {}
    lines = []
    ketnap = shlex.join([*_ketnap_command(), "--db", str(db)])
    # a config naming another login as the service account: the same forced command is refused
    other_config = base / "config" / "ketnap"
    other_config.mkdir(parents=True)
    (other_config / "ketnap.toml").write_text('service_account = "someone-else"\n')
    forced = {"alice": f"{ketnap} --user alice", "bob": f"{ketnap} --user bob",
              "carol": f"{ketnap} --user carol",
              "stranger": f"env XDG_CONFIG_HOME={shlex.quote(str(base / 'config'))} {ketnap} --user alice"}
    for name, command in forced.items():
        keys[name] = make_key(base / f"{name}_ed25519", name)
        lines.append(authorized_line(keys[name], command))
    with running_sshd(base, lines) as sshd:
        yield Server(sshd.port, db, base, keys, sshd.known_hosts, sshd.log)


@pytest.fixture(scope="module")
def bob_files(server):
    """`ssh server export cases -o - > files.json` with the district organiser's key."""
    return _json(server.ssh("bob", "export", "cases", "-o", "-"))


def _json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def _digest(db: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(db.parent.glob(db.name + "*"))}


# --- who a key acts as ------------------------------------------------------------------------

def test_each_key_acts_as_its_own_account(server):
    alice = _json(server.ssh("alice", "whoami", "--json"))
    assert (alice["name"], alice["role"], alice["unit"]["code"]) == ("alice", "secretary", BRANCH)
    bob = _json(server.ssh("bob", "whoami", "--json"))
    assert (bob["name"], bob["role"], bob["unit"]["code"]) == ("bob", "organiser", "NS")


def test_the_client_typing_ketnap_first_is_the_same_command(server):
    assert _json(server.ssh("alice", "ketnap", "whoami", "--json"))["name"] == "alice"


@pytest.mark.parametrize("options", [["--user", "bob"], ["--user=bob"], ["--db", "/other.sqlite3"],
                                     ["--today", "2020-01-01"]])
def test_a_client_may_not_choose_the_account_database_or_day(server, options):
    result = server.ssh("alice", *options, "whoami", "--json")
    assert result.returncode == 1
    assert "bob" not in result.stdout and "alice" not in result.stdout
    assert options[0].split("=")[0] in result.stderr


@pytest.mark.parametrize("command", [["sh", "-c", "id"], ["bash"], ["/bin/sh"], ["id;", "whoami"]])
def test_a_key_gives_no_shell(server, command):
    result = server.ssh("alice", *command)
    assert result.returncode == 2  # a ketnap usage error: the words went to ketnap, not a shell
    assert "uid=" not in result.stdout + result.stderr
    assert result.stdout == ""


def test_the_forced_user_is_honoured_only_for_the_service_account(server):
    from db import connection

    if connection._config_value(connection.SYSTEM_CONFIG, "service_account"):
        pytest.skip(f"{connection.SYSTEM_CONFIG} names the service account, over the user's file")
    # the same forced command, but the configuration names another login as the service account
    result = server.ssh("stranger", "whoami", "--json")
    assert result.returncode == 1
    assert '"alice"' not in result.stdout
    assert _json_error(result) == "no_account"


# --- what a key sees --------------------------------------------------------------------------

def test_a_secretary_works_on_her_branch_only(server):
    alice = _json(server.ssh("alice", "worklist", "--json"))["items"]
    bob = _json(server.ssh("bob", "worklist", "--json"))["items"]
    assert alice and all(item["branch"]["code"] == BRANCH for item in alice)
    assert len(bob) > len(alice)
    assert {item["branch"]["code"] for item in bob} - {BRANCH}
    assert {item["case_id"] for item in alice} <= {item["case_id"] for item in bob}


def test_stats_and_the_report_stop_at_the_keys_scope(server):
    alice = _json(server.ssh("alice", "stats", "--json"))
    bob = _json(server.ssh("bob", "stats", "--json"))
    assert alice["unit"]["code"] == BRANCH and bob["unit"]["code"] == "NS"
    assert alice["members"]["total"] < bob["members"]["total"]
    refused = server.ssh("alice", "stats", "--unit", "NS", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["code"] in ("unknown_unit", "not_found")
    report = server.ssh("alice", "export", "report", "--format", "csv", "-o", "-")
    assert report.returncode == 0 and "Tổng cộng" in report.stdout


def test_a_secretary_does_not_find_people_of_other_branches(server, bob_files):
    elsewhere = next(f["person"]["citizen_id"] for f in bob_files
                     if f["branch"] != BRANCH and f["person"].get("citizen_id"))
    assert len(_json(server.ssh("bob", "find", elsewhere, "--json"))["results"]) == 1
    assert _json(server.ssh("alice", "find", elsewhere, "--json"))["results"] == []


def test_export_to_stdout_holds_only_the_files_in_scope(server, bob_files):
    bob = bob_files
    alice = _json(server.ssh("alice", "export", "cases", "-o", "-"))
    assert alice and {f["branch"] for f in alice} == {BRANCH}
    assert len(bob) > len(alice) and {f["branch"] for f in bob} - {BRANCH}
    assert all(f["format"] == "ketnap-case/1" for f in bob)


def test_a_viewer_may_not_export(server):
    result = server.ssh("carol", "export", "cases", "-o", "-", "--json")
    assert result.returncode == 1
    assert _json_error(result) == "forbidden"


def _json_error(result: subprocess.CompletedProcess) -> str:
    return json.loads(result.stdout)["error"]["code"]


# --- what a key may not touch on the server ---------------------------------------------------

def test_no_files_on_the_server(server):
    target = server.dir / "anything.json"
    result = server.ssh("bob", "export", "cases", "-o", str(target), "--json")
    assert result.returncode == 1 and _json_error(result) == "forbidden"
    assert not target.exists()
    result = server.ssh("bob", "import", str(server.db), "--json")
    assert result.returncode == 1 and _json_error(result) == "forbidden"


def test_import_from_stdin_is_checked_against_the_keys_scope(server, bob_files):
    own = [f for f in bob_files if f["branch"] == BRANCH]
    others = [f for f in bob_files if f["branch"] != BRANCH][:5]
    before = _digest(server.db)
    # `ssh server import - < files.json`, with the secretary's key
    result = server.ssh("alice", "import", "-", "--dry-run", "--json", stdin=json.dumps(own + others))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["unchanged"] == len(own) and report["imported"] == report["updated"] == 0
    assert len(report["rejected"]) == len(others)  # other branches are not hers to write
    assert _digest(server.db) == before


@pytest.mark.parametrize("command", [["demo", "--force"], ["init"], ["synth", "--people", "10"]])
def test_service_commands_are_refused_and_change_nothing(server, command):
    before = _digest(server.db)
    result = server.ssh("bob", *command)
    assert result.returncode == 1
    assert _digest(server.db) == before


def test_the_database_and_audit_head_are_the_owners_alone(server):
    server.ssh("bob", "worklist")  # at least one session has used them
    head = server.db.with_name(server.db.name + ".audit-head")
    assert head.exists()
    for path in (server.db, head):
        assert path.stat().st_mode & 0o777 == 0o600, path
    # the operator's check, as the service account acting as an administrator: the audit chain
    # is whole after everything the sessions did
    assert _ketnap(server.db, "--user", "demo_admin", "check").returncode == 0


# --- the application itself, in a terminal ---------------------------------------------------

def _tree(screen: str) -> str:
    """The unit tree: the left column of the body, below the title and above the key bar."""
    return "\n".join(line[:28] for line in screen.splitlines()[1:-1])


@pytest.mark.parametrize("key,title,in_tree,not_in_tree", [
    # a branch secretary of one Nà Phặc branch: her branch alone, no commune, no district
    ("alice", BRANCH_NAME, ["TDP Phiêng Luông"], ["huyện Ngân Sơn", "thị trấn Nà Phặc", "TDP Nà Slảy"]),
    # the district organiser: the district, its communes and their branches, not the province
    ("bob", DISTRICT_NAME, ["▼ huyện Ngân Sơn", "thị trấn Nà Phặc", "TDP Phiêng Luông", "TDP Nà Slảy"],
     ["Bắc Kạn"]),
])
def test_the_application_over_ssh_in_tmux(server, key, title, in_tree, not_in_tree):
    require_tmux()
    if problem := pty_problem():
        pytest.skip(problem)
    term = Terminal(server.ssh_args(key, "-t"), width=100, height=30)  # `ssh -t server`: the forced command opens the app
    try:
        term.wait_for(f"{title} — Hôm nay 30/09/2021")
        screen = term.wait_for(in_tree[-1])  # the tree has been filled
        tree = _tree(screen)
        assert all(text in tree for text in in_tree), screen
        assert not any(text in screen for text in not_in_tree), screen
        term.keys("C-q")
        term.wait_for("EXITED 0")
    finally:
        term.close()


def test_a_meeting_look_up_over_ssh_by_keyboard_alone(server):
    """What a new user tries first, over ssh at 80x24 on a Linux console (TERM=linux, 16
    colours): Ctrl+F, a name typed without diacritics, the third hit opened; the palette to
    another branch; back with the history; the meeting screen of a Nà Phặc branch; quit."""
    require_tmux()
    if problem := pty_problem():
        pytest.skip(problem)
    term = Terminal(server.ssh_args("bob", "-t"), width=80, height=24, env={"TERM": "linux"})
    try:
        term.wait_for(f"{DISTRICT_NAME} — Hôm nay 30/09/2021")
        term.keys("C-f")
        term.wait_for("Tìm người, hồ sơ, đơn vị")
        term.keys("hoang thi")
        screen = term.wait_for("  3. ")
        third = next(line for line in screen.splitlines() if line.startswith("  3. "))
        name = " ".join(third[5:].split()[:3])  # "Hoàng Thị Dịu": surname, middle and given name
        assert name.startswith("Hoàng Thị "), screen
        term.keys("Down", "Down", "Down", "Enter")
        # her file, or her branch's list with her on top
        left = term.wait_until(lambda s: "Tìm người" not in s.splitlines()[0] and f"{name} " in s,
                               f"left the search for {name}")
        title = left.splitlines()[0].split(" — ")[0].strip()

        term.keys(":")
        term.keys("ban chang")
        term.wait_for("Đơn vị: Chi bộ Tổ dân phố Bản Chang")
        term.keys("Enter")
        term.wait_for("Chi bộ Tổ dân phố Bản Chang — Hôm nay")

        term.keys("[")  # back where the palette was opened
        term.wait_until(lambda s: f"{title} — Hôm nay" in s and f"{name} " in s,
                        f"back at {title} with {name}")

        term.keys(":")
        term.keys("phieng luong")
        term.wait_for(f"Đơn vị: {BRANCH_NAME}")
        term.keys("Enter")
        term.wait_for(f"{BRANCH_NAME} — Hôm nay")
        term.keys("M")
        term.wait_for(f"Họp chi bộ: {BRANCH_NAME}")
        meeting = term.wait_for("Đảng viên giúp đỡ (")  # the branch's files have been read
        for section in ("Hồ sơ chờ chi bộ biểu quyết", "Đảng viên dự bị đến hạn xét chính thức",
                        "Giấy chứng nhận nhận thức sắp hết hạn", "Đảng viên giúp đỡ"):
            assert section in meeting, meeting
        term.keys("Escape")
        term.wait_for(f"{BRANCH_NAME} — Hôm nay")
        term.keys("C-q")
        term.wait_for("EXITED 0")
    finally:
        term.close()
