# SPDX-License-Identifier: MIT
"""A real PostgreSQL 15 for the tests, started by the test itself.

`Cluster()` runs initdb and pg_ctl (Debian's postgresql-15, /usr/lib/postgresql/15/bin) as
an unprivileged user (the tests run as root; PostgreSQL refuses root) in a temporary
directory that user owns, listening only on a Unix socket in that directory: parallel runs
never collide on a port. Logins take a password (scram-sha-256), so a URL carries a secret
the daemon must never log. `cluster.new_database()` gives each test its own database and its
URL. `cluster.stop()` / `cluster.start()` stop and start the same cluster (outage tests);
`cluster.destroy()` removes it.

The session-wide cluster is the `pg` fixture (pg_fixtures below, imported by conftest.py);
a test that needs PostgreSQL fails when postgresql-15 (`scripts/deps test`) is missing.
"""

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

PG_BIN = Path(os.environ.get("AUTOPROV_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_DEADLINE = 30.0
USER = "autoprov"
PASSWORD = "s3cret-Pg-pass"


def available():
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


def _runas_user():
    """The unprivileged user to run the server as: postgres if the package made it."""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user (postgres, nobody) to run PostgreSQL as")


class Cluster:
    """One PostgreSQL server on a Unix socket in its own temporary directory."""

    _names = itertools.count(1)

    def __init__(self):
        self.user = _runas_user()
        self.root = Path(tempfile.mkdtemp(prefix="autoprov-pg-"))
        os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.root, 0o700)
        self.data = self.root / "data"
        self.sock = self.root  # the socket directory
        self.log_path = self.root / "server.log"
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        self._run([PG_BIN / "initdb", "-D", self.data, "-U", USER, "--pwfile", pwfile,
                   "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "-N"])
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = ''\nunix_socket_directories = '{self.sock}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 100\nshared_buffers = 16MB\n")
        self.running = False
        self.start()

    def _run(self, cmd, check=True):
        return subprocess.run(["runuser", "-u", self.user.pw_name, "--", *map(str, cmd)],
                              cwd=self.root, capture_output=True, text=True, check=check,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})

    def start(self):
        out = self._run([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log_path, "-w",
                         "-t", str(int(START_DEADLINE)), "start"], check=False)
        if out.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {out.stdout}{out.stderr}\n{self.log()}")
        self.running = True

    def stop(self, mode="fast"):
        if not self.running:
            return
        self._run([PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"], check=False)
        self.running = False

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def url(self, dbname="postgres", password=True):
        """A libpq URI for dbname on the socket (with the password unless password=False)."""
        auth = f"{USER}:{quote(PASSWORD, safe='')}" if password else USER
        return f"postgresql://{auth}@{quote(str(self.sock), safe='')}/{dbname}"

    def psql(self, sql, dbname="postgres"):
        """Runs sql with psql; returns its output (unaligned, tuples only)."""
        out = subprocess.run([PG_BIN / "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              "-d", self.url(dbname), "-c", sql],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {out.stderr}")
        return out.stdout

    def new_database(self):
        """A new empty database; returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)


def pg_fixtures(pytest):
    """The fixtures: `pg` (the session's cluster) and `pg_url` (a fresh database's URL)."""

    @pytest.fixture(scope="session")
    def pg():
        if not available():
            pytest.fail("postgresql-15 is not installed (scripts/deps test)")
        cluster = Cluster()
        yield cluster
        cluster.destroy()

    @pytest.fixture
    def pg_url(pg):
        if not pg.running:
            pg.start()
        return pg.new_database()

    return pg, pg_url

