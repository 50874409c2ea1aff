"""A throwaway sshd on 127.0.0.1, for the SSH tests and the terminal benchmark.

Host key, client keys and configuration live in a folder the caller gives (a tmp_path); the
server runs as the caller's own login and accepts only the keys of its authorized_keys lines
(each usually with a forced command).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _program(name: str) -> str | None:
    # sshd often lives in /usr/sbin, which is not on an ordinary user's PATH
    return shutil.which(name) or next((str(Path(d) / name) for d in ("/usr/sbin", "/usr/bin")
                                       if (Path(d) / name).is_file()), None)


SSHD, SSH, SSH_KEYGEN = _program("sshd"), _program("ssh"), _program("ssh-keygen")
LOGIN = pwd.getpwuid(os.getuid()).pw_name


def missing_programs() -> list[str]:
    return [n for n, p in (("sshd", SSHD), ("ssh", SSH), ("ssh-keygen", SSH_KEYGEN)) if p is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_sshd(process: subprocess.Popen, port: int, log: Path, timeout: float = 15.0) -> None:
    """Poll until the port answers with an SSH banner (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"sshd exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"sshd never answered on port {port}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)


def make_key(path: Path, comment: str) -> Path:
    """A new ed25519 key pair without a passphrase: `path` and `path.pub`."""
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


def authorized_line(key: Path, command: str) -> str:
    """One authorized_keys line: the key may only run `command`, with a terminal if asked."""
    assert '"' not in command
    return f'restrict,pty,command="{command}" {key.with_suffix(".pub").read_text().strip()}'


@dataclass
class Sshd:
    port: int
    known_hosts: Path
    log: Path

    def ssh_args(self, key: Path, *options: str) -> list[str]:
        return [SSH, "-F", "/dev/null", "-p", str(self.port), "-i", str(key),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "ConnectTimeout=10",
                "-o", "LogLevel=ERROR", *options, f"{LOGIN}@127.0.0.1"]


@contextmanager
def running_sshd(base: Path, authorized_lines: list[str]):
    """An sshd on a free port of 127.0.0.1 accepting the given authorized_keys lines for this
    login; stopped on leaving."""
    authorized = base / "authorized_keys"
    authorized.write_text("\n".join(authorized_lines) + "\n")
    host_key = base / "host_ed25519"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    port = free_port()
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text()}")
    config = base / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {base / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized}", "StrictModes no", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "PermitRootLogin prohibit-password", f"AllowUsers {LOGIN}", "PrintMotd no",
        "PrintLastLog no", "LogLevel VERBOSE", ""]))
    if os.getuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    log = base / "sshd.log"
    process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_sshd(process, port, log)
        yield Sshd(port, known_hosts, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pty_problem() -> str | None:
    """Why an unprivileged sshd cannot hand out a terminal here, if it cannot.

    sshd gives the session's pty to the user and the `tty` group, and ends the session when that
    chown fails. As root it cannot fail; unprivileged it is a no-op where /dev/pts is mounted with
    gid=5 (the usual), and fails where it is not (some containers)."""
    if os.getuid() == 0:
        return None
    import grp

    try:
        tty_gid = grp.getgrnam("tty").gr_gid
    except KeyError:
        tty_gid = os.getgid()
    primary, secondary = os.openpty()
    try:
        gid = os.fstat(secondary).st_gid
    finally:
        os.close(primary)
        os.close(secondary)
    if gid == tty_gid or tty_gid in os.getgroups():
        return None
    return (f"an unprivileged sshd cannot give a pty to group tty here (new ptys get group {gid}: "
            f"/dev/pts is mounted without gid={tty_gid}); run as root or on a usual /dev/pts")
