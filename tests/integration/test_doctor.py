# SPDX-License-Identifier: MIT
"""`autoprov doctor` and GET /api/v1/devices/{mac}/doctor (docs/doctor.md): scenarios made
by real clients against the daemon (`autoprov agent`, tftp-hpa, curl), each with the verdict
a user would read, through the CLI and through the API, which must agree; and the devices'
state the journal's writer keeps (docs/admin.md, "Device state")."""

import json
import time

from admin import Api, make_token, problem
from harness import BIN, HANG_GUARD, Site, curl_get, run, sanitizer_report, tftp_hpa_get
from test_agent import agent, md5

MAC = "0022ee010203"
MAU = MAC.upper()


def algo_site(tmp_path, conf=""):
    """An Algo site: a generic algop8188.conf and a per-device template."""
    site = Site(tmp_path / "site")
    site.write("algop8188.conf", "audio.spk.vol = 1\n")
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "algom{MAC}.conf").write_text(
        "sip.user = {{sip_user}}\nprov.version.firmware = {{firmware}}\n")
    site.conf("[auth]\nfailure_delay = 50\n" + conf)
    return site


def device(site, *args):
    result = run([BIN, "device", "--site", site.root, *args])
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def cli_doctor(site, mac, *extra):
    result = run([BIN, "doctor", "--site", site.root, mac, *extra])
    assert result.returncode == 0, result.stderr.decode()
    assert not sanitizer_report(result.stderr.decode())
    return result.stdout.decode()


def doctor(site, mac, server=None, token=None, until=None):
    """The diagnosis by the CLI (--json), and by the API when a server is given: both must
    give the same verdicts. until(diagnosis): poll until true (the writer writes ten times
    a second), bounded by the hang guard."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        dg = json.loads(cli_doctor(site, mac, "--json"))
        if until is None or until(dg):
            break
        assert time.monotonic() < deadline, json.dumps(dg, indent=2)
        time.sleep(0.1)
    if server is not None:
        api = Api(server.ports["admin"], token)
        via_api = api.json("GET", f"/api/v1/devices/{mac}/doctor")
        assert codes(via_api) == codes(dg), (via_api, dg)
        assert via_api["state"]["status"] == dg["state"]["status"]
    return dg


def codes(dg):
    return [v["code"] for v in dg["verdicts"]]


def verdict(dg, code):
    found = [v for v in dg["verdicts"] if v["code"] == code]
    assert found, json.dumps(dg, indent=2)
    return found[0]


def has(code):
    return lambda dg: code in codes(dg)


def start(start_server, site, *args):
    return start_server(site, args=("--admin", "127.0.0.1:0", *args))


def test_never_seen_and_unknown(tmp_path, start_server):
    site = algo_site(tmp_path)
    device(site, "add", MAC, "--profile", "algo", "--model", "8188")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    dg = doctor(site, MAC, server, token)
    v = verdict(dg, "never-seen")
    assert v["level"] == "error" and dg["state"]["status"] == "never-seen"
    assert "option 66" in v["detail"] and "autoprov dhcp" in v["action"]
    assert "--vendor algo" in v["action"]
    # a MAC nobody has: never seen, and the command that adds it
    dg = doctor(site, "0022ee0000ff", server, token)
    assert codes(dg) == ["unknown"]
    assert "autoprov device" in verdict(dg, "unknown")["action"]
    text = cli_doctor(site, "00:22:ee:00:00:ff")
    assert "Never seen, and not in the inventory" in text
    # the API takes any MAC form, refuses what is not one, and wants a token
    api = Api(server.ports["admin"], token)
    assert api.json("GET", "/api/v1/devices/00-22-EE-01-02-03/doctor")["mac"] == MAC
    assert "not a MAC" in problem(api.get("/api/v1/devices/xyz/doctor"), 400)["detail"]
    problem(api.get(f"/api/v1/devices/{MAC}/doctor", token=None), 401)
    states = api.json("GET", "/api/v1/device-states")["states"]
    assert states == {"never-seen": 1, "provisioning": 0, "provisioned": 0, "failing": 0,
                      "change-pending": 0}
    problem(api.get("/api/v1/device-states?seen_since=yesterday"), 400)


def test_seen_but_not_in_the_inventory_gets_the_generic_file(tmp_path, start_server):
    site = algo_site(tmp_path)
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    other = "0022ee0a0b0c"
    run_ = agent("algo", "--model", "8188", "--server", f"tftp://127.0.0.1:{server.port}",
                 mac=other.upper())
    assert run_.code == 0, run_
    dg = doctor(site, other, server, token, until=has("generic-instead-of-own"))
    assert dg["state"]["status"] == "not-in-inventory"
    v = verdict(dg, "not-in-inventory")
    assert f"add 00:22:ee:0a:0b:0c --profile algo --model 8188" in v["action"]
    g = verdict(dg, "generic-instead-of-own")
    assert f"algom{other.upper()}.conf" in g["title"] and "algop8188.conf" in g["title"]
    assert "not in the inventory" in g["detail"]
    # the rows cited are the journal's: the own file not found, the generic one sent
    paths = {(r["path"], r["outcome"]) for r in g["rows"]}
    assert (f"algom{other.upper()}.conf", "not found") in paths
    assert ("algop8188.conf", "sent") in paths
    assert all(isinstance(r["id"], int) and r["id"] > 0 for r in g["rows"])
    # the generic file names no device: the row of its address is attributed to it
    generic = [r for r in g["rows"] if r["path"] == "algop8188.conf"][0]
    assert generic["attributed"] is True


def test_missing_md5_over_tftp(tmp_path, start_server):
    site = algo_site(tmp_path)
    device(site, "add", MAC, "--profile", "algo", "--model", "8188", "--var", "sip_user=2001",
           "--var", "firmware=5.3")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    # tftp-hpa takes the configuration and stops: no .md5 asked for
    out = tmp_path / "conf"
    tftp_hpa_get(server.port, f"algom{MAU}.conf", out)
    assert b"sip.user = 2001" in out.read_bytes()
    dg = doctor(site, MAC, server, token, until=has("md5-never-fetched"))
    v = verdict(dg, "md5-never-fetched")
    assert v["level"] == "warning" and f"algom{MAU}.md5" in v["detail"]
    assert v["rows"][0]["path"] == f"algom{MAU}.conf" and v["rows"][0]["outcome"] == "sent"
    assert v["rows"][0]["md5"] == md5(out.read_bytes())
    # the real endpoint asks for it and gets it: nothing more to say about it
    run_ = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                 f"tftp://127.0.0.1:{server.port}")
    assert run_.code == 0, run_
    dg = doctor(site, MAC, server, token, until=lambda d: "md5-never-fetched" not in codes(d))
    assert dg["state"]["status"] == "provisioned", dg
    assert "provisioned" in codes(dg) and "last-provisioning" in codes(dg)


def test_a_hand_made_md5_that_does_not_match(tmp_path, start_server):
    site = algo_site(tmp_path)
    site.write(f"algom{MAU}.md5", "0" * 32 + f"  algom{MAU}.conf\n")
    device(site, "add", MAC, "--profile", "algo", "--var", "sip_user=1", "--var", "firmware=5")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    run_ = agent("algo", "--model", "8188", "--firmware", "5",
                 "--server", f"tftp://127.0.0.1:{server.port}")
    assert run_.said("does not match its .md5"), run_
    dg = doctor(site, MAC, server, token, until=has("md5-mismatch"))
    v = verdict(dg, "md5-mismatch")
    assert v["level"] == "error" and f"files/algom{MAU}.md5" in v["action"]


def test_wrong_password(tmp_path, start_server):
    site = algo_site(tmp_path, "[http]\nauth = digest\n")
    device(site, "add", MAC, "--profile", "algo", "--var", "prov_password=right",
           "--var", "sip_user=1", "--var", "firmware=5")
    token = make_token(site.root, "reader")
    server = start(start_server, site, "--http", "127.0.0.1:0")
    result = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--digest", "-u",
                  f"{MAC}:wrong", f"http://127.0.0.1:{server.http_port}/algom{MAU}.conf"])
    assert result.stdout == b"401"
    dg = doctor(site, MAC, server, token, until=has("wrong-password"))
    v = verdict(dg, "wrong-password")
    assert v["level"] == "error" and "prov_password" in v["action"]
    assert v["rows"][0]["detail"] == "wrong credentials"
    # curl's first request got the challenge, and it answered: that is no verdict
    assert "no-credentials" not in codes(dg)
    assert dg["state"]["status"] == "failing"
    assert dg["state"]["last_failure"]["detail"] == "wrong credentials"
    # the right password: provisioned, and the old denial is not held against it
    result = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--digest", "-u",
                  f"{MAC}:right", f"http://127.0.0.1:{server.http_port}/algom{MAU}.conf"])
    assert result.stdout == b"200"
    dg = doctor(site, MAC, server, token, until=lambda d: "wrong-password" not in codes(d))
    assert dg["state"]["status"] == "provisioned", dg


def test_missing_firmware_image(tmp_path, start_server):
    site = algo_site(tmp_path)
    device(site, "add", MAC, "--profile", "algo", "--model", "8188", "--var", "sip_user=2001",
           "--var", "firmware=5.4f")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    run_ = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                 f"tftp://127.0.0.1:{server.port}")
    assert "algo-8188-5.4f.sfw" in run_.fetched(), run_
    dg = doctor(site, MAC, server, token, until=has("missing-file"))
    v = verdict(dg, "missing-file")
    # Algo asks for the .sfw, then the .fw (seed 000 7.4a): the last name asked is cited
    assert "algo-8188-5.4f." in v["title"] and "prov.version.firmware" in v["detail"]
    assert v["rows"][0]["outcome"] == "not found"
    assert dg["state"]["status"] == "failing"
    # the image arrives: the next pass installs it, and the state follows
    site.write("algo-8188-5.4f.sfw", b"image 5.4f")
    run_ = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                 f"tftp://127.0.0.1:{server.port}")
    dg = doctor(site, MAC, server, token, until=lambda d: "missing-file" not in codes(d))
    assert dg["state"]["status"] == "provisioned", dg
    assert dg["state"]["firmware"] == "5.4f"
    assert "last-firmware" in codes(dg)


def test_pending_change_and_states(tmp_path, start_server):
    site = algo_site(tmp_path)
    device(site, "add", MAC, "--profile", "algo", "--model", "8188", "--var", "sip_user=2001",
           "--var", "firmware=5.3")
    device(site, "add", "0022ee010204", "--profile", "algo")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    run_ = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                 f"tftp://127.0.0.1:{server.port}")
    assert run_.code == 0 and run_.of("apply"), run_
    dg = doctor(site, MAC, server, token, until=lambda d: d["state"]["status"] == "provisioned")
    assert codes(dg)[-1] == "provisioned"
    api = Api(server.ports["admin"], token)
    states = api.json("GET", "/api/v1/device-states?seen_since=0")
    assert states["states"]["provisioned"] == 1 and states["states"]["never-seen"] == 1
    assert states["seen_since"] == 1
    # the inventory changes: what it would get now differs from what it got
    device(site, "set", MAC, "--var", "sip_user=2002")
    dg = doctor(site, MAC, server, token)
    v = verdict(dg, "change-pending")
    assert f"autoprov resync --site {site.root} 00:22:ee:01:02:03" in v["action"]
    assert v["rows"][0]["path"] == f"algom{MAU}.conf"
    assert dg["state"]["status"] == "change-pending"
    states = api.json("GET", "/api/v1/device-states")
    assert states["states"]["change-pending"] == 1 and "seen_since" not in states
    # the device list filters by the same states
    def listed(query):
        return [d["mac"] for d in api.json("GET", f"/api/v1/devices?{query}")["devices"]]
    assert listed("state=change-pending") == [MAC]
    assert listed("state=never-seen") == ["0022ee010204"]
    assert listed("state=provisioned") == [] and listed("state=failing") == []
    assert listed("state=never-seen&profile=algo&q=0022ee0102") == ["0022ee010204"]
    assert api.call("GET", "/api/v1/devices?state=asleep").status == 400
    # each device shows its state, and what GET shows can be PUT back as it is
    one = api.json("GET", f"/api/v1/devices/{MAC}")
    assert one["state"]["status"] == "change-pending"
    assert one["state"]["last_config"] == f"algom{MAU}.conf"
    assert [d["state"]["status"] for d in api.json("GET", "/api/v1/devices")["devices"]] == \
        ["change-pending", "never-seen"]
    writer = Api(server.ports["admin"], make_token(site.root, "writer", scope="write"))
    assert writer.call("PUT", f"/api/v1/devices/{MAC}", body=one).status == 200
    # a change that does not touch its file: the revision says maybe, the render says no
    device(site, "set", MAC, "--var", "sip_user=2001", "--var", "unused=1")
    dg = doctor(site, MAC, server, token)
    assert "change-pending" not in codes(dg) and dg["state"]["status"] == "provisioned"
    # device show prints the state block
    show = device(site, "show", MAC)
    assert "state:     change-pending" in show and f"last config:  algom{MAU}.conf" in show
    shown = json.loads(device(site, "show", MAC, "--json"))
    assert shown["state"]["last_config"] == f"algom{MAU}.conf"


def test_blocked_address(tmp_path, start_server):
    site = algo_site(tmp_path, "[defence]\nmax_misses = 3\nblock_time = 60\n")
    device(site, "add", MAC, "--profile", "algo", "--var", "sip_user=1", "--var", "firmware=5")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    out = tmp_path / "conf"
    tftp_hpa_get(server.port, f"algom{MAU}.conf", out)
    assert out.read_bytes().startswith(b"sip.user = 1")
    # something at the same address asks for devices the site does not have: blocked
    for i in range(6):
        curl_get(server.port, f"algom0022EE99{i:04X}.conf", "--max-time", "2")
    server.wait_log(r"blocked for 60 s on every protocol")
    dg = doctor(site, MAC, server, token, until=has("blocked"))
    v = verdict(dg, "blocked")
    assert "[defence] trusted" in v["action"] and "blocked for 60 s" in v["detail"]
    assert v["rows"][0]["outcome"] == "blocked" and v["rows"][0]["attributed"] is True
    assert dg["state"]["status"] == "failing"


def test_doctor_help_and_usage():
    result = run([BIN, "doctor", "--help"])
    assert result.returncode == 0 and b"--json" in result.stdout and b"--site" in result.stdout
    assert run([BIN, "doctor"]).returncode == 2
    assert run([BIN, "doctor", "not-a-mac"]).returncode == 2
    assert b"doctor" in run([BIN, "--help"]).stdout


def test_pending_behind_a_tftp_prefix(tmp_path, start_server):
    """The doctor strips [tftp] prefix as the server does, through the CLI and the API."""
    site = algo_site(tmp_path, "[tftp]\nprefix = prov\n")
    device(site, "add", MAC, "--profile", "algo", "--var", "sip_user=1", "--var", "firmware=5")
    token = make_token(site.root, "reader")
    server = start(start_server, site)
    out = tmp_path / "conf"
    tftp_hpa_get(server.port, f"prov/algom{MAU}.conf", out)
    tftp_hpa_get(server.port, f"prov/algom{MAU}.md5", tmp_path / "md5")
    assert out.read_bytes().startswith(b"sip.user = 1")
    dg = doctor(site, MAC, server, token, until=has("last-provisioning"))
    assert "config-gone" not in codes(dg) and "change-pending" not in codes(dg), dg
    device(site, "set", MAC, "--var", "sip_user=2")
    dg = doctor(site, MAC, server, token)
    assert "change-pending" in codes(dg) and "config-gone" not in codes(dg), dg
