"""`make install` brings the Debian packages a fresh machine lacks, or says the one command to run.

The machine under test has every package, so each test builds a PATH of its own: a temporary
bin directory with a link to every command of the system except the ones the test hides
(wkhtmltopdf, apt-get, sudo), plus stand-ins for apt-get and sudo that record how they were
called. The stand-in apt-get "installs" a wkhtmltopdf into that directory, as the real one
would put it on PATH.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "install-system-packages.sh"
SYSTEM_BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
HIDDEN = {"wkhtmltopdf", "apt-get", "sudo"}
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

STAND_IN_APT_GET = """#!/bin/sh
echo "$*" >> {record}
if [ "$1" = install ]; then
  for package in "$@"; do
    if [ "$package" = wkhtmltopdf ]; then
      printf '#!/bin/sh\\necho "wkhtmltopdf 0.12.6 (stand-in)"\\n' > {bin}/wkhtmltopdf
      chmod 755 {bin}/wkhtmltopdf
    fi
  done
fi
"""
# Passwordless sudo: runs the command as the caller, after noting the arguments.
STAND_IN_SUDO = """#!/bin/sh
echo "$*" >> {record}
[ "$1" = -n ] && shift
exec "$@"
"""


class Machine:
    """A PATH without wkhtmltopdf, apt-get and sudo, in a directory anybody may use (the
    non-root tests run the script as `nobody`)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="clientela-install-"))
        self.dir.chmod(0o777)
        self.bin = self.dir / "bin"
        self.bin.mkdir()
        self.bin.chmod(0o777)
        for directory in SYSTEM_BIN_DIRS:
            if not os.path.isdir(directory):
                continue
            for entry in os.scandir(directory):
                target = self.bin / entry.name
                if entry.name in HIDDEN or target.exists() or not os.access(entry.path, os.X_OK):
                    continue
                target.symlink_to(entry.path)
        self.apt_record = self.dir / "apt-get.calls"
        self.sudo_record = self.dir / "sudo.calls"
        self.add_command("apt-get", STAND_IN_APT_GET.format(record=self.apt_record, bin=self.bin))
        # A shell of its own: not inside `make test`'s make (whose MAKELEVEL would have the inner
        # make print "Entering directory"), with PATH reduced to the stand-in bin.
        inherited = {key: value for key, value in os.environ.items() if key not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
        self.env = {**inherited, "PATH": str(self.bin)}

    def add_command(self, name: str, script: str) -> None:
        path = self.bin / name
        path.write_text(script)
        path.chmod(0o755)

    def apt_calls(self) -> list[str]:
        return self.apt_record.read_text().splitlines() if self.apt_record.exists() else []

    def run(self, *command: str, as_nobody: bool = False) -> subprocess.CompletedProcess:
        prefix = NOBODY if as_nobody else []
        return subprocess.run([*prefix, *command], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)


@pytest.fixture
def machine():
    if os.geteuid() != 0:
        pytest.fail("these tests play root and nobody: run them as root (CI does)")
    machine = Machine()
    assert shutil.which("wkhtmltopdf", path=machine.env["PATH"]) is None
    yield machine
    shutil.rmtree(machine.dir)


def test_make_install_as_root_installs_a_missing_wkhtmltopdf_with_apt_get(machine):
    result = machine.run("make", "install")

    assert result.returncode == 0, result.stdout + result.stderr
    assert machine.apt_calls() == ["update -qq", "install -y -qq wkhtmltopdf"]
    assert "Installing Debian packages: wkhtmltopdf" in result.stdout
    assert (machine.bin / "wkhtmltopdf").exists()
    for catalog in ("it", "en"):
        assert (ROOT / "app" / "translations" / catalog / "LC_MESSAGES" / "messages.mo").exists()

    again = machine.run("make", "install")
    assert again.returncode == 0, again.stdout + again.stderr
    assert machine.apt_calls() == ["update -qq", "install -y -qq wkhtmltopdf"], "nothing missing: apt-get not called"
    assert again.stdout.strip() == "", "everything present: no apt-get, no pip, no catalog compiled, only checks"


def test_the_test_packages_are_asked_for_by_make_test_only(machine):
    (machine.bin / "chromium").unlink()
    (machine.bin / "pdftotext").unlink()

    assert machine.run(str(SCRIPT), "run").returncode == 0
    assert machine.apt_calls() == ["update -qq", "install -y -qq wkhtmltopdf"]

    result = machine.run(str(SCRIPT), "run", "test")
    # The stand-in installs only wkhtmltopdf, so the script notices the others are still missing.
    assert result.returncode == 1
    assert machine.apt_calls()[-1] == "install -y -qq chromium poppler-utils"
    assert "still missing: chromium poppler-utils" in result.stderr


def test_without_root_it_uses_passwordless_sudo(machine):
    machine.add_command("sudo", STAND_IN_SUDO.format(record=machine.sudo_record))

    result = machine.run(str(SCRIPT), "run", as_nobody=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert machine.sudo_record.read_text().splitlines() == [
        "-n true",
        "-n apt-get update -qq",
        "-n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wkhtmltopdf",
    ]
    assert machine.apt_calls() == ["update -qq", "install -y -qq wkhtmltopdf"]


def test_without_root_or_sudo_it_stops_with_the_command_to_run(machine):
    result = machine.run(str(SCRIPT), "run", as_nobody=True)

    assert result.returncode == 1
    assert "sudo apt-get install -y wkhtmltopdf" in result.stderr
    assert machine.apt_calls() == [], "nothing was installed"
    assert not (machine.bin / "wkhtmltopdf").exists()


def test_without_root_and_a_sudo_that_wants_a_password_it_stops_too(machine):
    machine.add_command("sudo", f"#!/bin/sh\necho \"$*\" >> {machine.sudo_record}\n"
                                "echo 'sudo: a password is required' >&2\nexit 1\n")

    result = machine.run("make", "install", as_nobody=True)

    assert result.returncode != 0
    assert "sudo apt-get install -y wkhtmltopdf" in result.stderr
    assert machine.sudo_record.read_text().splitlines() == ["-n true"]
    assert machine.apt_calls() == []
