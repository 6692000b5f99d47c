# SPDX-License-Identifier: MIT
"""`autoprov md5`, `encrypt` and `decrypt` against the tools administrators check them with:
files encrypted by `openssl enc -aes-256-cbc -md md5 -k K` decrypt, files autoprov encrypts
decrypt with `openssl enc -d`, and the md5 lines are md5sum's, accepted by `md5sum -c`."""

import os

import pytest

from harness import BIN, pattern_bytes, run, sanitizer_report

KEY = "s3cr3t pass"
PROFILE = b"DBID_DBASE_VERSION=2208\nDBID_SIP_ACCOUNT=23103\n"
# sizes around the AES block, and one of many blocks
SIZES = (0, 1, 15, 16, 17, 70_001)


def autoprov(*args, **kw):
    proc = run([BIN, *args], **kw)
    assert not sanitizer_report(proc.stderr.decode("utf-8", "replace")), proc.stderr
    return proc


def openssl_enc(*args, **kw):
    return run(["openssl", "enc", "-aes-256-cbc", "-md", "md5", *args], **kw)


def text(proc):
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


@pytest.mark.parametrize("size", SIZES)
def test_openssl_encrypts_autoprov_decrypts(tmp_path, size):
    plain = pattern_bytes(size, size)
    src = tmp_path / "p.conf"
    src.write_bytes(plain)
    enc = tmp_path / "p.enc"
    proc = openssl_enc("-k", KEY, "-in", src, "-out", enc)
    assert proc.returncode == 0, text(proc)

    out = tmp_path / "p.out"
    proc = autoprov("decrypt", "--key", KEY, enc, out)
    assert proc.returncode == 0, text(proc)
    assert out.read_bytes() == plain


@pytest.mark.parametrize("size", SIZES)
def test_autoprov_encrypts_openssl_decrypts(tmp_path, size):
    plain = pattern_bytes(size, size + 1)
    src = tmp_path / "p.conf"
    src.write_bytes(plain)
    enc = tmp_path / "p.enc"
    proc = autoprov("encrypt", "--key", KEY, src, enc)
    assert proc.returncode == 0, text(proc)
    assert enc.read_bytes()[:8] == b"Salted__"

    proc = openssl_enc("-d", "-k", KEY, "-in", enc)
    assert proc.returncode == 0, text(proc)
    assert proc.stdout == plain


def test_stdin_stdout_and_key_file(tmp_path):
    """The pipe form, with the key kept out of the command line (`openssl -kfile`)."""
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\nthe rest of the file is not the key\n")
    proc = autoprov("encrypt", "--key-file", key_file, "-", "-", input=PROFILE)
    assert proc.returncode == 0, text(proc)
    encrypted = proc.stdout

    proc = run(["openssl", "enc", "-d", "-aes-256-cbc", "-md", "md5", "-kfile", key_file],
               input=encrypted)
    assert proc.returncode == 0, text(proc)
    assert proc.stdout == PROFILE

    proc = autoprov("decrypt", "--key-file", key_file, "-", "-", input=encrypted)
    assert proc.returncode == 0, text(proc)
    assert proc.stdout == PROFILE


def test_fresh_salt_each_time(tmp_path):
    a = autoprov("encrypt", "-k", KEY, "-", "-", input=PROFILE).stdout
    b = autoprov("encrypt", "-k", KEY, "-", "-", input=PROFILE).stdout
    assert len(a) == len(b) == 16 + 48
    assert a[8:16] != b[8:16]


def test_wrong_key(tmp_path):
    enc = tmp_path / "p.enc"
    proc = openssl_enc("-k", KEY, "-out", enc, input=PROFILE)
    assert proc.returncode == 0, text(proc)
    out = tmp_path / "p.out"
    proc = autoprov("decrypt", "--key", "not the key", enc, out)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "autoprov decrypt: wrong key or corrupt file\n"
    assert not out.exists(), "nothing is written on failure"


def test_sha256_digest_reads_as_wrong_key(tmp_path):
    """openssl's default digest is SHA-256 since 1.1.0: the same key, another derived key."""
    enc = tmp_path / "p.enc"
    proc = run(["openssl", "enc", "-aes-256-cbc", "-md", "sha256", "-k", KEY, "-out", enc],
               input=PROFILE)
    assert proc.returncode == 0, text(proc)
    proc = autoprov("decrypt", "--key", KEY, enc, "-")
    assert proc.returncode == 1
    assert "wrong key or corrupt file" in text(proc)


def test_not_salted(tmp_path):
    plain = tmp_path / "p.conf"
    plain.write_bytes(PROFILE)
    proc = autoprov("decrypt", "--key", KEY, plain, tmp_path / "out")
    assert proc.returncode == 1
    assert "not an encrypted file" in text(proc) and "Salted__" in text(proc)
    assert not (tmp_path / "out").exists()


def test_truncated(tmp_path):
    enc = tmp_path / "p.enc"
    proc = openssl_enc("-k", KEY, "-out", enc, input=PROFILE)
    assert proc.returncode == 0, text(proc)
    cut = tmp_path / "cut.enc"
    cut.write_bytes(enc.read_bytes()[:-5])
    proc = autoprov("decrypt", "--key", KEY, cut, "-")
    assert proc.returncode == 1
    assert "truncated or corrupt" in text(proc)


def test_output_modes_and_no_temporary_left(tmp_path):
    new = tmp_path / "p.enc"
    proc = autoprov("encrypt", "-k", KEY, "-", new, input=PROFILE)
    assert proc.returncode == 0, text(proc)
    assert new.read_bytes()[:8] == b"Salted__"
    assert new.stat().st_mode & 0o777 == 0o666 & ~current_umask(), "a new file follows umask"

    private = tmp_path / "p.conf"
    private.write_bytes(b"old")
    private.chmod(0o600)
    proc = autoprov("decrypt", "-k", KEY, new, private)
    assert proc.returncode == 0, text(proc)
    assert private.read_bytes() == PROFILE
    assert private.stat().st_mode & 0o777 == 0o600, "a replaced file keeps its mode"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.conf", "p.enc"], \
        "no temporary file is left"


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("args", [
    ("encrypt",),
    ("encrypt", "in", "out"),  # no key
    ("encrypt", "--key", "k", "in"),  # no OUT
    ("decrypt", "--key", "k", "--key-file", "f", "in", "out"),  # both
    ("decrypt", "--key", "", "in", "out"),  # empty
    ("decrypt", "--bogus"),
    ("md5",),
    ("md5", "-o", "out", "a", "b"),
])
def test_usage_errors(args):
    proc = autoprov(*args)
    assert proc.returncode == 2, text(proc)
    assert "autoprov" in proc.stderr.decode()


@pytest.mark.parametrize("cmd", ["md5", "encrypt", "decrypt"])
def test_help(cmd):
    proc = autoprov(cmd, "--help")
    assert proc.returncode == 0, text(proc)
    assert proc.stdout.decode().startswith(f"usage: autoprov {cmd}")


def test_md5_equals_md5sum(tmp_path):
    names = ["algop8188.conf", "algom0022EE010203.conf", "empty.cfg", "tone_file.zip"]
    data = [pattern_bytes(3000, 1), PROFILE, b"", pattern_bytes(200_000, 2)]
    for name, body in zip(names, data):
        (tmp_path / name).write_bytes(body)

    # the paths carry a directory; the lines do not, as a companion's must not
    proc = autoprov("md5", *(tmp_path / n for n in names))
    assert proc.returncode == 0, text(proc)
    expected = run(["md5sum", *names], cwd=tmp_path)
    assert expected.returncode == 0
    assert proc.stdout == expected.stdout


def test_md5_output_file_is_accepted_by_md5sum_check(tmp_path):
    conf = tmp_path / "algop8188.conf"
    conf.write_bytes(pattern_bytes(5000, 3))
    companion = tmp_path / "algop8188.md5"
    proc = autoprov("md5", "-o", companion, conf)
    assert proc.returncode == 0, text(proc)
    assert proc.stdout == b""
    assert companion.read_bytes() == run(["md5sum", conf.name], cwd=tmp_path).stdout

    check = run(["md5sum", "-c", companion.name], cwd=tmp_path)
    assert check.returncode == 0, text(check)
    assert check.stdout == b"algop8188.conf: OK\n"


def test_md5_missing_file_fails_but_prints_the_others(tmp_path):
    good = tmp_path / "a.cfg"
    good.write_bytes(b"x\n")
    proc = autoprov("md5", tmp_path / "missing.cfg", good)
    assert proc.returncode == 1
    assert "missing.cfg" in proc.stderr.decode()
    assert proc.stdout == run(["md5sum", "a.cfg"], cwd=tmp_path).stdout
