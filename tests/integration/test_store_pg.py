# SPDX-License-Identifier: MIT
"""The store's unit tests (tests/unit/test_store.c) on PostgreSQL.

The same cmocka binary meson runs on SQLite, given a database of the harness's PostgreSQL
(pg.py) in AUTOPROV_TEST_PG_URL: the inventory, journal, version, binding and token tests
run on both backends from one source.
"""

import os
import subprocess

from harness import BIN

UNIT = BIN.parent / "tests" / "unit" / "test_store"


def test_store_unit_tests_on_postgresql(pg_url):
    assert UNIT.exists(), f"{UNIT} is not built (meson setup -Dtests=true)"
    env = dict(os.environ, AUTOPROV_TEST_PG_URL=pg_url)
    out = subprocess.run([str(UNIT)], env=env, capture_output=True, text=True, timeout=600)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-6000:]
    assert "[  PASSED  ]" in report
    assert "FAILED" not in report, report[-6000:]
