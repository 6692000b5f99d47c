# SPDX-License-Identifier: MIT
"""`autoprov template FILE --data DATA.json [--partials DIR] [--escape-html]`: what a
template writer sees on stdout, on stderr and in the exit status."""

import json

import pytest

from harness import BIN, run, sanitizer_report


@pytest.fixture
def tdir(tmp_path):
    if not BIN.exists():
        pytest.fail(f"binary {BIN} does not exist (build it, or set AUTOPROV_BIN)")
    (tmp_path / "partials").mkdir()
    return tmp_path


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def template(*args, stdin=None):
    result = run([BIN, "template", *args], input=stdin)
    found = sanitizer_report(result.stderr.decode("utf-8", "replace"))
    assert not found, f"sanitizer report ({found}):\n{result.stderr.decode()}"
    return result


PHONE_CFG = """\
# {{model}} for {{mac}}
{{> header}}
{{#accounts}}
  {{> account}}
{{/accounts}}
{{^accounts}}
# no accounts
{{/accounts}}
{{! the end }}
volume={{settings.volume}}
"""

DATA = {
    "model": "T46U",
    "mac": "001565aabbcc",
    "server": "pbx.example.net",
    "accounts": [
        {"line": 1, "user": "alice", "password": "p&ss<1>"},
        {"line": 2, "user": "bob", "password": "s3cret"},
    ],
    "settings": {"volume": 7},
}


def test_renders_with_data_and_partials(tdir):
    write(tdir / "phone.cfg", PHONE_CFG)
    write(tdir / "partials" / "header", "[server]\nhost={{server}}\n")
    # NAME.mustache is found when NAME does not exist
    write(tdir / "partials" / "account.mustache",
          "account.{{line}}.user={{user}}\naccount.{{line}}.password={{password}}\n")
    write(tdir / "data.json", json.dumps(DATA))
    result = template(tdir / "phone.cfg", "--data", tdir / "data.json",
                      "--partials", tdir / "partials")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert result.stdout.decode() == (
        "# T46U for 001565aabbcc\n"
        "[server]\n"
        "host=pbx.example.net\n"
        "  account.1.user=alice\n"
        "  account.1.password=p&ss<1>\n"
        "  account.2.user=bob\n"
        "  account.2.password=s3cret\n"
        "volume=7\n")


def test_escape_html_option(tdir):
    write(tdir / "t", "{{v}} {{{v}}} {{&v}}")
    write(tdir / "d.json", json.dumps({"v": "<a & \"b\">"}))
    plain = template(tdir / "t", "--data", tdir / "d.json")
    assert plain.returncode == 0
    assert plain.stdout == b'<a & "b"> <a & "b"> <a & "b">'
    escaped = template(tdir / "t", "--data", tdir / "d.json", "--escape-html")
    assert escaped.returncode == 0
    assert escaped.stdout == b'&lt;a &amp; &quot;b&quot;&gt; <a & "b"> <a & "b">'


def test_data_from_stdin_and_no_data(tdir):
    write(tdir / "t", "[{{who}}]\n")
    result = template(tdir / "t", "--data", "-", stdin=b'{"who": "stdin"}')
    assert (result.returncode, result.stdout) == (0, b"[stdin]\n")
    result = template(tdir / "t")
    assert (result.returncode, result.stdout) == (0, b"[]\n")


def test_bytes_pass_through(tdir):
    write(tdir / "t", b"\xff\x00{{v}}\r\n")
    write(tdir / "d.json", json.dumps({"v": "caf\u00e9"}))
    result = template(tdir / "t", "--data", tdir / "d.json")
    assert result.returncode == 0
    assert result.stdout == b"\xff\x00caf\xc3\xa9\r\n"


def test_missing_and_refused_partials_render_as_nothing(tdir):
    write(tdir / "secret", "SECRET")
    write(tdir / "partials" / "sub" / "p", "sub")
    write(tdir / "t", "[{{>missing}}][{{>../secret}}][{{>" + str(tdir / "secret") +
          "}}][{{>sub/p}}][{{>sub}}]")
    result = template(tdir / "t", "--partials", tdir / "partials")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"[][][][sub][]"
    # without --partials, every partial is missing
    result = template(tdir / "t")
    assert (result.returncode, result.stdout) == (0, b"[][][][][]")


def test_compile_error_names_file_and_line(tdir):
    path = write(tdir / "bad.cfg", "a\n{{#lines}}\nb\n{{/line}}\n")
    result = template(path)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == (
        f"autoprov template: {path}:4: closing tag 'line' does not match section 'lines' "
        "(line 2)\n")


def test_unclosed_section_and_tag(tdir):
    result = template(write(tdir / "a", "x\n\n{{#s}}\n"))
    assert result.returncode == 1
    assert result.stderr.decode() == f"autoprov template: {tdir / 'a'}:3: unclosed section 's'\n"
    result = template(write(tdir / "b", "x {{y\n"))
    assert result.returncode == 1
    assert "b:1: unclosed tag" in result.stderr.decode()


def test_error_in_partial_names_the_partial_file(tdir):
    write(tdir / "t", "ok\n{{>broken}}\n")
    part = write(tdir / "partials" / "broken.mustache", "line 1\nline 2 {{/x}}\n")
    result = template(tdir / "t", "--partials", tdir / "partials")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == (
        f"autoprov template: {part}:2: closing tag 'x' without an open section\n")


def test_endless_recursion_is_an_error(tdir):
    write(tdir / "t", "{{>r}}")
    write(tdir / "partials" / "r", "r\n{{>r}}")
    result = template(tdir / "t", "--partials", tdir / "partials")
    assert result.returncode == 1
    assert result.stdout == b""
    assert ":2: sections and partials nested deeper than 64 levels" in result.stderr.decode()


def test_bad_json_data(tdir):
    write(tdir / "t", "x")
    write(tdir / "d.json", '{\n  "a": 1,\n  oops\n}')
    result = template(tdir / "t", "--data", tdir / "d.json")
    assert result.returncode == 1
    assert result.stderr.decode().startswith(f"autoprov template: {tdir / 'd.json'}:3: ")


@pytest.mark.parametrize("args,message", [
    (["nothing-here"], "nothing-here: No such file or directory"),
    (["{t}", "--data", "nothing.json"], "nothing.json: No such file or directory"),
    (["{dir}"], "Is a directory"),
])
def test_unreadable_files(tdir, args, message):
    write(tdir / "t", "x")
    args = [a.format(t=tdir / "t", dir=tdir) for a in args]
    result = template(*args)
    assert result.returncode == 1
    assert message in result.stderr.decode()


@pytest.mark.parametrize("args", [
    [],
    ["--bogus", "t"],
    ["t", "--data"],
    ["t", "--partials"],
    ["t", "u"],
])
def test_usage_errors(tdir, args):
    result = template(*args)
    assert result.returncode == 2
    assert "usage: autoprov template FILE" in result.stderr.decode()


def test_help(tdir):
    result = template("--help")
    assert result.returncode == 0
    assert result.stdout.decode().startswith("usage: autoprov template FILE")
    assert "--escape-html" in result.stdout.decode()
