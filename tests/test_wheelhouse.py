"""Installing with no internet (`make wheelhouse`) and the UTF-8 locale of an SSH session.

Building the whole wheelhouse needs the internet, so the target's recipe is checked with
`make -n`; ketnap's own wheel is built (from a copy of the checkout, so that no stale build/ goes
in) where the build backend can be had without the internet, and must hold every module and data
file of its packages: a data file missing from the wheel is what an offline install would hit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tui.cli import _utf8_environ

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("db", "tui", "screens", "fixtures")
DATA = {".toml", ".csv", ".json", ".xlsx", ".tcss"}


def test_make_wheelhouse_recipe():
    if shutil.which("make") is None:
        pytest.skip("no make")
    # the stamp as up to date, so that only the wheelhouse recipe is shown
    result = subprocess.run(["make", "-n", "-o", ".venv/.installed-stamp", "wheelhouse"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "rm -rf build wheelhouse" in lines
    assert ".venv/bin/python -m pip wheel --wheel-dir wheelhouse ." in lines
    assert any(line.startswith(".venv/bin/python -m pip download --dest wheelhouse")
               and line.endswith(" pip setuptools wheel") for line in lines)
    assert any("requirements.txt" in line for line in lines)
    assert "wheelhouse/" in (ROOT / ".gitignore").read_text().splitlines()


def _source_files() -> set[str]:
    files = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in DATA | {".py"}:
                files.add(path.relative_to(ROOT).as_posix())
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheels")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                             "--wheel-dir", str(out), str(source)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        if "build dependencies" in result.stderr and not os.environ.get("KETNAP_CI"):
            pytest.skip("the build backend (setuptools) cannot be had here without the internet")
        pytest.fail(result.stderr[-3000:])
    (built,) = out.glob("ketnap-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(wheel.namelist())
    missing = _source_files() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    for name in ("fixtures/people-template.xlsx", "fixtures/people-template.csv",
                 "fixtures/demo/demo.toml", "tui/locale/cli.toml", "tui/app.tcss"):
        assert name in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "ketnap = tui.cli:main" in wheel.read(entry_points).decode()


# -- the locale of an SSH session ----------------------------------------------------------------

@pytest.mark.parametrize("environ", [
    {"LANG": "vi_VN.UTF-8"}, {"LANG": "C.UTF-8"}, {"LC_CTYPE": "en_US.utf8", "LANG": "C"},
    {"LC_ALL": "vi_VN.UTF-8@modifier", "LANG": "C"},
])
def test_utf8_locale_left_alone(environ):
    before = dict(environ)
    assert _utf8_environ(environ) is False
    assert environ == before


@pytest.mark.parametrize("environ, after", [
    ({}, {"LC_CTYPE": "C.UTF-8"}),
    ({"LANG": "C"}, {"LANG": "C", "LC_CTYPE": "C.UTF-8"}),
    ({"LANG": "POSIX", "LC_CTYPE": ""}, {"LANG": "POSIX", "LC_CTYPE": "C.UTF-8"}),
    ({"LANG": "en_US.ISO-8859-1"}, {"LANG": "en_US.ISO-8859-1", "LC_CTYPE": "C.UTF-8"}),
    # LC_ALL would override LC_CTYPE: it gives way to LANG, the other categories as they were
    ({"LC_ALL": "C", "LANG": "vi_VN.UTF-8"}, {"LANG": "C", "LC_CTYPE": "C.UTF-8"}),
])
def test_non_utf8_locale_gets_utf8_character_type(environ, after):
    assert _utf8_environ(environ) is True
    assert environ == after


def _ketnap(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    # PYTHONUTF8=0: without it Python itself would turn on its UTF-8 mode under the C locale,
    # and the test would pass whatever ketnap does; with LC_ALL=C, standard output is ASCII
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C",
           "PYTHONUTF8": "0", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, timeout=60)


def test_c_locale_session_prints_vietnamese():
    result = _ketnap("--help")
    assert result.returncode == 0, result.stderr
    assert "phát triển đảng viên" in result.stdout.decode("utf-8")


def test_c_locale_session_errors_in_vietnamese(tmp_path):
    result = _ketnap("--db", str(tmp_path / "none.sqlite3"), "units")
    assert result.returncode == 1
    assert "cơ sở dữ liệu" in result.stderr.decode("utf-8")
    assert b"?" not in result.stderr.split(b"/")[0]
