"""`make bench`: figures measured against a baseline in the same run, never asserted in tests.

Start-up: from process start to the first screen ready for input (its workers done, the screen
refreshed), and the peak memory (max RSS) at that moment, for ketnap on the demo database and
for an empty Textual app measured the same way. Both run through `App.run(headless=True)` with an
auto-pilot that waits for the workers, so the two differ only in what the apps do.

    python -m tests.bench [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DB = ROOT / "bench-demo.sqlite3"


# --- probe: runs in a child process ---------------------------------------------------------

def _patch_run_to_report_ready() -> None:
    import textual.app

    original = textual.app.App.run

    async def report_when_ready(pilot) -> None:
        # ready: no worker running, and the screen says its data is shown (an app whose screen
        # has no such flag is ready once it has drawn)
        while True:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            if getattr(pilot.app.screen, "ready_for_input", True):
                break
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"READY {rss_kib}", flush=True)
        pilot.app.exit()

    def run(self, *args, **kwargs):
        kwargs.update(headless=True, auto_pilot=report_when_ready)
        return original(self, *args, **kwargs)

    textual.app.App.run = run


def probe(kind: str, db_path: str) -> int:
    _patch_run_to_report_ready()
    if kind == "empty":
        from textual.app import App, ComposeResult
        from textual.widgets import Footer, Header, Label

        class EmptyApp(App):
            def compose(self) -> ComposeResult:
                yield Header()
                yield Label("ready")
                yield Footer()

        EmptyApp().run()
        return 0
    from tui.cli import main

    return main(["--db", db_path])


# --- driver -----------------------------------------------------------------------------------

def _measure(kind: str, db_path: str) -> tuple[float, int]:
    env = dict(os.environ, TERM="xterm-256color")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench", "--probe", kind, db_path],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("READY "):
            elapsed = time.perf_counter() - started
            rss = int(line.split()[1])
            proc.wait(timeout=60)
            return elapsed, rss
    proc.wait()
    raise RuntimeError(f"{kind} never became ready: {proc.stderr.read()[-2000:]}")


def _ensure_demo() -> str:
    if not DEMO_DB.exists():
        subprocess.run([sys.executable, "-m", "tui.cli", "--db", str(DEMO_DB), "demo"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    return str(DEMO_DB)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--probe", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    if args.probe:
        return probe(*args.probe)

    db_path = _ensure_demo()
    results: dict[str, list[tuple[float, int]]] = {"empty": [], "ketnap": []}
    _measure("empty", db_path)  # warm the file cache for both alike
    _measure("ketnap", db_path)
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        for kind in results:
            results[kind].append(_measure(kind, db_path))

    def med(kind: str, index: int) -> float:
        return statistics.median(r[index] for r in results[kind])

    rows = [
        ("start-up to first screen ready (s)", med("ketnap", 0), med("empty", 0), 1.3),
        ("peak memory (MiB)", med("ketnap", 1) / 1024, med("empty", 1) / 1024, 1.5),
    ]
    print(f"ketnap start-up on the demo database vs an empty Textual app, "
          f"median of {args.runs} interleaved runs each (headless)")
    print(f"{'figure':<38}{'ketnap':>10}{'empty app':>12}{'ratio':>8}{'aim':>8}")
    for name, ours, base, aim in rows:
        ratio = ours / base
        print(f"{name:<38}{ours:>10.3f}{base:>12.3f}{ratio:>8.2f}{'<=' + str(aim):>8}"
              f"{'' if ratio <= aim else '  (over)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
