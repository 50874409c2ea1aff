"""A real terminal for end-to-end tests: one tmux session on a private socket."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid

import pytest


def require_tmux(*, module: bool = False) -> None:
    """Skip when tmux is missing, with the reason; under CI (KETNAP_CI, set by .ci/run, which
    installs it) that is a failure instead."""
    if shutil.which("tmux") is None:
        if os.environ.get("KETNAP_CI"):
            pytest.fail("tmux is required in CI (.ci/run installs it)", pytrace=False)
        pytest.skip("tmux is not installed", allow_module_level=module)


class Terminal:
    """One tmux session on a private socket, running a command; the screen is read as text."""

    def __init__(self, command: list[str], width: int = 80, height: int = 24, env: dict | None = None):
        self.socket = f"ketnap-test-{uuid.uuid4().hex[:8]}"
        environment = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in (env or {}).items())
        shell = f"env {environment} {shlex.join(command)}; echo EXITED $?; sleep 30"
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "t",
                        "-x", str(width), "-y", str(height), shell], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "t"],
                              capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "t", *keys], check=True)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """Poll the screen until `text` shows (a condition with a deadline, not a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")
            time.sleep(0.05)

    def wait_until(self, condition, what: str, timeout: float = 30.0) -> str:
        """Poll the screen until `condition(screen)` holds (a deadline, not a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never {what}; the screen was:\n{screen}")
            time.sleep(0.05)

    def resize(self, width: int, height: int) -> None:
        """The window as a terminal's is when its user resizes it (SIGWINCH to the program)."""
        subprocess.run(["tmux", "-L", self.socket, "resize-window", "-t", "t", "-x", str(width),
                        "-y", str(height)], check=True)

    def program_pid(self) -> int:
        """The process id of the command the session runs (the shell's child)."""
        shell = subprocess.run(["tmux", "-L", self.socket, "display-message", "-p", "-t", "t",
                                "#{pane_pid}"], capture_output=True, text=True, check=True).stdout.strip()
        children = open(f"/proc/{shell}/task/{shell}/children").read().split()
        return int(children[0])

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
