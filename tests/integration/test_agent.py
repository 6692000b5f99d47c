# SPDX-License-Identifier: MIT
"""`autoprov agent` (libautoprov): every device behaviour the seeds describe, run against
autoprov's own server and against servers nobody here wrote (tftpd-hpa, nginx, vsftpd)
serving a tree the test made. The agent's --json timeline is what the tests read: which
files it asked for, what it decided, what it applied, installed and stored."""

import hashlib
import itertools
import json
import os
import subprocess

import pytest

from harness import BIN, sanitizer_report
import peers

MAC = "0022EE010203"


def md5(data):
    return hashlib.md5(data if isinstance(data, bytes) else data.encode()).hexdigest()


class Run:
    def __init__(self, proc):
        self.code = proc.returncode
        self.stderr = proc.stderr
        self.events = [json.loads(line) for line in proc.stdout.splitlines()
                       if line.startswith("{")]
        assert not sanitizer_report(proc.stderr), proc.stderr

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]

    def fetched(self, status=None, first_pass=False):
        """Names of the files asked for, in order (the URL's last segment); first_pass:
        only until the first reboot."""
        names = []
        for e in self.events:
            if first_pass and e["event"] == "reboot":
                break
            if e["event"] == "fetch" and (status is None or e["status"] == status):
                names.append(e["url"].rsplit("/", 1)[-1])
        return names

    def said(self, text):
        return any(text in e["text"] for e in self.events)

    def __repr__(self):
        return "\n".join(f'{e["event"]:9} {e.get("status", ""):9} {e["text"]} '
                         f'{e.get("url", "")}' for e in self.events) + "\n" + self.stderr


def agent(profile, *args, mac=MAC, state=None, output=None, timeout=120):
    cmd = [str(BIN), "agent", "--profile", profile, "--mac", mac, "--json", "--timeout", "60"]
    if state:
        cmd += ["--state", str(state)]
    if output:
        cmd += ["--output", str(output)]
    cmd += [str(a) for a in args]
    return Run(subprocess.run(cmd, capture_output=True, text=True, timeout=timeout))


def algo_site(site, files, md5s=True):
    """Write files (name -> text) and, over TFTP, their .md5 companions."""
    for name, text in files.items():
        site.write(name, text)
        if md5s and name.endswith((".conf", ".zip", ".sfw", ".txt", ".db")):
            stem = name.rsplit(".", 1)[0]
            site.write(stem + ".md5", md5(text) + "  " + name + "\n")


ALGO_NAMES = [f"algom{MAC}.conf", f"algom{MAC}-i.conf", "algop8188.conf", "algop8188-i.conf"]


@pytest.mark.parametrize("present", [s for n in range(1, 5)
                                     for s in itertools.combinations(range(4), n)])
def test_algo_search_order_first_found_only(site, start_server, tmp_path, present):
    algo_site(site, {ALGO_NAMES[i]: f"audio.spk.vol = {i}\n" for i in present})
    server = start_server(site)
    run = agent("algo", "--model", "8188", "--server", f"tftp://127.0.0.1:{server.port}",
                "--set", "partial=1", output=tmp_path / "out")
    first = min(present)
    asked = [n for n in run.fetched(first_pass=True) if n.endswith(".conf")]
    assert asked == ALGO_NAMES[:first + 1], run
    applied = run.of("apply")
    assert len(applied) == 1 and ALGO_NAMES[first] in applied[0]["text"], run
    assert ("incremental" in applied[0]["text"]) == (first % 2 == 1)
    # the reboot after the change, then the second pass finds the same file: stable
    assert len(run.of("reboot")) == 1 and run.code == 0, run
    assert run.said("already applied: ignored")


def test_algo_incremental_files_need_partial_provisioning(site, start_server):
    algo_site(site, {ALGO_NAMES[1]: "a = 1\n", ALGO_NAMES[3]: "b = 2\n"})
    server = start_server(site)
    run = agent("algo", "--model", "8188", "--server", f"tftp://127.0.0.1:{server.port}")
    assert [n for n in run.fetched() if n.endswith(".conf")] == [ALGO_NAMES[0], ALGO_NAMES[2]]
    assert run.said("no configuration file on the server") and not run.of("apply"), run


def test_algo_md5_mismatch_is_ignored_over_tftp(site, start_server):
    site.write("algop8188.conf", "audio.spk.vol = 5\n")
    site.write("algop8188.md5", "0" * 32 + "\n")
    server = start_server(site)
    run = agent("algo", "--model", "8188", "--server", f"tftp://127.0.0.1:{server.port}")
    assert run.said("does not match its .md5") and not run.of("apply"), run
    assert run.code == 0


def test_algo_md5_not_needed_over_http(site, start_server):
    site.write("algop8188.conf", "audio.spk.vol = 5\n")
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    run = agent("algo", "--model", "8188", "--server", f"http://127.0.0.1:{server.http_port}")
    assert not any(n.endswith(".md5") for n in run.fetched()), run
    assert len(run.of("apply")) == 1


def test_algo_full_then_incremental_and_convergence(site, start_server, tmp_path):
    state = tmp_path / "state"
    algo_site(site, {ALGO_NAMES[0]: "a = 1\nb = 2\n"})
    server = start_server(site)
    url = f"tftp://127.0.0.1:{server.port}"
    run = agent("algo", "--model", "8188", "--server", url, "--set", "partial=1", state=state)
    assert "full" in run.of("apply")[0]["text"] and run.code == 0, run
    # unchanged server: the endpoint does nothing and says so
    again = agent("algo", "--model", "8188", state=state)
    assert not again.of("apply") and not again.of("reboot"), again
    assert again.said("already applied: ignored") and again.of("done")[-1]["changed"] is False
    # the MAC file goes; its incremental file appears: merged, not reset
    (site.files / ALGO_NAMES[0]).unlink()
    algo_site(site, {ALGO_NAMES[1]: "b = 3\n"})
    inc = agent("algo", "--model", "8188", state=state)
    assert "incremental" in inc.of("apply")[0]["text"], inc
    saved = json.loads((state / "state.json").read_text())
    assert saved["config"] == {"a": "1", "b": "3"}


def test_algo_firmware_sequence(site, start_server, tmp_path):
    fw = b"\x7fALGO firmware 5.4f" * 1000
    algo_site(site, {ALGO_NAMES[0]: "prov.enable = 1\nprov.version.firmware = 5.4f\n"})
    site.write("algo-8188-5.4f.sfw", fw)
    site.write("algo-8188-5.4f.md5", md5(fw) + "\n")
    server = start_server(site)
    out = tmp_path / "out"
    run = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                f"tftp://127.0.0.1:{server.port}", output=out)
    kinds = [e["event"] for e in run.events if e["event"] in ("apply", "firmware", "reboot",
                                                               "done")]
    # config applied and reboot, then firmware and reboot, then stable
    assert kinds == ["apply", "reboot", "firmware", "reboot", "done"], run
    assert run.of("done")[0]["changed"] is False and run.code == 0
    assert (out / "firmware-5.4f").read_bytes() == fw


def test_algo_firmware_not_matching_its_md5_is_not_installed(site, start_server):
    algo_site(site, {ALGO_NAMES[0]: "prov.version.firmware = 5.4f\n"})
    site.write("algo-8188-5.4f.sfw", b"image")
    site.write("algo-8188-5.4f.md5", "0" * 32 + "\n")
    server = start_server(site)
    run = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                f"tftp://127.0.0.1:{server.port}")
    assert not run.of("firmware") and run.code == 1, run
    assert run.said("does not match its .md5")


def test_algo_resources_fetched_once(site, start_server, tmp_path):
    state, out = tmp_path / "state", tmp_path / "out"
    algo_site(site, {ALGO_NAMES[0]: "prov.data.tone = tones.zip\nprov.data.cacert = c.zip\n",
                     "tones.zip": "tone zip", "c.zip": "cert zip"})
    server = start_server(site)
    url = f"tftp://127.0.0.1:{server.port}"
    run = agent("algo", "--model", "8188", "--server", url, state=state, output=out)
    assert [e["text"] for e in run.of("resource")] == [
        "stored tone tones.zip (8 bytes)", "stored cacert c.zip (8 bytes)"], run
    assert (out / "tone-tones.zip").read_text() == "tone zip"
    again = agent("algo", "--model", "8188", state=state)
    assert "tones.zip" not in again.fetched() and again.said("tones.zip unchanged"), again
    assert again.fetched().count("tones.md5") == 1
    # a new tones file (new .md5) is fetched again
    algo_site(site, {"tones.zip": "new tones"})
    third = agent("algo", "--model", "8188", state=state)
    assert "tones.zip" in third.fetched("ok"), third


def test_algo_discovery_priority_66_over_160_over_150(site, start_server):
    algo_site(site, {"algop8188.conf": "x = 1\n"})
    server = start_server(site)
    good = f"tftp://127.0.0.1:{server.port}"
    run = agent("algo", "--model", "8188", "--dhcp-option", f"66={good}",
                "--dhcp-option", "160=tftp://127.0.0.1:9", "--dhcp-option", "150=127.0.0.1")
    assert run.said("server from DHCP option 66") and run.of("apply"), run
    # the highest-priority option is the only one used, even when it has no files
    empty = agent("algo", "--model", "8188", "--set", "fetch_timeout=2", "--dhcp-option",
                  "66=tftp://127.0.0.1:9", "--dhcp-option", f"160={good}")
    assert empty.said("server from DHCP option 66") and not empty.of("apply"), empty
    # the manual override picks 160
    forced = agent("algo", "--model", "8188", "--set", "dhcp_option=160", "--dhcp-option",
                   "66=tftp://127.0.0.1:9", "--dhcp-option", f"160={good}")
    assert forced.said("server from DHCP option 160") and forced.of("apply"), forced


def test_algo_disabled_does_nothing(site, start_server):
    run = agent("algo", "--model", "8188", "--set", "enabled=0", "--server", "tftp://127.0.0.1:9")
    assert run.said("provisioning is disabled") and not run.fetched() and run.code == 0, run
    # disabled is checked first (seed 000, step 1): with no server at all, no discovery runs
    bare = agent("algo", "--model", "8188", "--set", "enabled=0")
    assert bare.said("provisioning is disabled") and bare.code == 0, bare
    assert not bare.said("no provisioning server") and not bare.said("server from"), bare


def test_fip_boot_include_override_order(site, start_server, tmp_path):
    mac = "0021f2000001"
    site.write(f"{mac}.boot", "#!version:1.0.0.1\ninclude:config <a.cfg>\n"
               "include:config \"sub/b.cfg\"\n"
               "include:config \"http://127.0.0.1:{port}/c.cfg\"\n")
    site.write("a.cfg", "#!version:1.0.0.1\nx=a\ny=a\nz=a\n")
    site.write("sub/b.cfg", "y=b\nz=b\n")
    site.write("c.cfg", "z=c\nremote_phonebook.data.1.url=http://127.0.0.1:{port}/pb.xml\n")
    site.write("pb.xml", "<phonebook/>")
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    port = server.http_port
    for name in (f"{mac}.boot", "c.cfg"):
        p = site.files / name
        p.write_text(p.read_text().replace("{port}", str(port)))
    out, state = tmp_path / "out", tmp_path / "state"
    run = agent("fip", "--mac", mac, "--model", "FIP16", "--server",
                f"http://127.0.0.1:{port}/", mac=mac, output=out, state=state)
    assert run.fetched() == [f"{mac}.boot", "a.cfg", "b.cfg", "c.cfg", "pb.xml"], run
    saved = json.loads((state / "state.json").read_text())["config"]
    assert (saved["x"], saved["y"], saved["z"]) == ("a", "b", "c")
    assert (out / "phonebook-pb.xml").read_text() == "<phonebook/>"
    again = agent("fip", "--mac", mac, mac=mac, state=state)
    assert not again.of("apply") and again.said("match the settings in force"), again


def test_fip_common_boot_file_when_no_mac_file(site, start_server):
    mac = "0021f2000002"
    site.write("y000000000000.boot", "include:config <common.cfg>\n")
    site.write("common.cfg", "k=v\n")
    server = start_server(site)
    run = agent("fip", "--mac", mac, "--server", f"tftp://127.0.0.1:{server.port}", mac=mac)
    assert run.fetched() == [f"{mac}.boot", "y000000000000.boot", "common.cfg"], run
    assert run.fetched("not found") == [f"{mac}.boot"]


SPA_MAC = "0021F2011B19"


def test_spa_dbid_version_gating_and_profile_rule_macros(site, start_server, tmp_path):
    state = tmp_path / "state"
    site.write(f"fv{SPA_MAC.lower()}.conf", "DBID_DBASE_VERSION=7\nDBID_SIP_ACCOUNT=4001\n")
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    rule = f"http://127.0.0.1:{server.http_port}/fv$MA.conf"
    run = agent("spa", "--model", "IP542N", "--set", "option66=0", "--set",
                f"profile_rule={rule}", "--set", "random_delay=0", mac=SPA_MAC, state=state)
    assert run.fetched() == [f"fv{SPA_MAC.lower()}.conf"] and len(run.of("apply")) == 1, run
    # the reboot after a parameter update does not resync
    assert run.said("no resync after a reboot for a parameter update"), run
    # same DBID_DBASE_VERSION: not applied, even though the content changed
    site.write(f"fv{SPA_MAC.lower()}.conf", "DBID_DBASE_VERSION=7\nDBID_SIP_ACCOUNT=9999\n")
    same = agent("spa", "--model", "IP542N", mac=SPA_MAC, state=state)
    assert same.said("DBID_DBASE_VERSION 7 is the version applied") and not same.of("apply")
    site.write(f"fv{SPA_MAC.lower()}.conf", "DBID_DBASE_VERSION=8\nDBID_SIP_ACCOUNT=9999\n")
    new = agent("spa", "--model", "IP542N", mac=SPA_MAC, state=state)
    assert len(new.of("apply")) == 1, new


def test_spa_encrypted_profile_with_key(site, start_server, tmp_path):
    plain = tmp_path / "plain.conf"
    plain.write_text("DBID_DBASE_VERSION=1\nDBID_SIP_ACCOUNT=4001\n")
    enc = site.files / "enc.conf"
    subprocess.run([str(BIN), "encrypt", "--key", "s3cret", str(plain), str(enc)],
                   check=True)
    server = start_server(site)
    url = f"tftp://127.0.0.1:{server.port}/enc.conf"
    ok = agent("spa", "--set", "option66=0", "--set", f"profile_rule=[--key s3cret]{url}",
               "--set", "random_delay=0", mac=SPA_MAC)
    assert ok.said("decrypted") and len(ok.of("apply")) == 1, ok
    bad = agent("spa", "--set", "option66=0", "--set", f"profile_rule=[--key wrong]{url}",
                "--set", "random_delay=0", mac=SPA_MAC)
    assert bad.said("wrong key") and not bad.of("apply") and bad.code == 1, bad


def test_spa_option66_overrides_profile_rule(site, start_server):
    site.write("IP542N.conf", "DBID_DBASE_VERSION=1\n")
    server = start_server(site)
    run = agent("spa", "--model", "IP542N", "--set", "random_delay=0",
                "--set", "profile_rule=tftp://127.0.0.1:9/never.conf",
                "--dhcp-option", f"66=127.0.0.1:{server.port}", mac=SPA_MAC)
    assert run.fetched() == ["IP542N.conf"] and run.of("apply"), run


def test_spa_upgrade_rule_runs_at_the_boot_after_a_new_profile(site, start_server, tmp_path):
    """Upgrade Enable "independently of resync actions": the reboot after a new profile does
    not resync, but it checks the Upgrade Rule, so the firmware comes in the same boot
    sequence rather than after the next periodic resync."""
    site.write(f"fv{SPA_MAC}.conf", "DBID_DBASE_VERSION=1\nDBID_SIP_ACCOUNT=4001\n")
    site.write("G502_F107_S334.bin", b"\x7fFV firmware" * 500)
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    base = f"http://127.0.0.1:{server.http_port}"
    out = tmp_path / "out"
    run = agent("spa", "--model", "G502N", "--set", "option66=0", "--set", "random_delay=0",
                "--set", f"profile_rule={base}/fv$MAU.conf", "--set",
                f"upgrade_rule={base}/G502_F107_S334.bin", mac=SPA_MAC, output=out)
    kinds = [e["event"] for e in run.events if e["event"] in ("apply", "firmware", "reboot",
                                                               "done")]
    assert kinds == ["apply", "reboot", "firmware", "reboot", "done"], run
    assert run.said("no resync after a reboot for a parameter update") and run.code == 0, run
    assert (out / "firmware-G502_F107_S334").exists()
    assert not any("periodic" in e["text"] for e in run.events
                   if e["event"] == "step" and e["text"].startswith("pass")), run


def test_spa_upgrade_rule_without_a_server_takes_option_66s(site, start_server, tmp_path):
    """"[scheme://][server[:port]]/file path" (seed 001 2.2): an Upgrade Rule naming no
    server takes DHCP option 66's, also in the upgrade's own pass at the boot after a new
    profile, where no resync found a server."""
    site.write("G502N.conf", "DBID_DBASE_VERSION=1\n")
    site.write("G502_F107_S334.bin", b"\x7fFV firmware" * 500)
    server = start_server(site)
    out = tmp_path / "out"
    run = agent("spa", "--model", "G502N", "--set", "random_delay=0", "--set",
                "upgrade_rule=/G502_F107_S334.bin", "--dhcp-option",
                f"66=127.0.0.1:{server.port}", mac=SPA_MAC, output=out)
    kinds = [e["event"] for e in run.events if e["event"] in ("apply", "firmware", "reboot",
                                                               "done")]
    assert kinds == ["apply", "reboot", "firmware", "reboot", "done"], run
    assert run.said("the Upgrade Rule names no server: DHCP option 66's") and run.code == 0, run
    assert (out / "firmware-G502_F107_S334").exists()
    # without option 66 the rule cannot be completed: a clear failure, nothing fetched
    bare = agent("spa", "--model", "G502N", "--set", "random_delay=0", "--set",
                 "resync_on_reset=0", "--set", "upgrade_rule=/G502_F107_S334.bin",
                 mac=SPA_MAC)
    assert bare.said("it names no server and no DHCP option 66 was received"), bare
    assert not bare.fetched(), bare


def test_spa_upgrade_error_retry_runs_the_upgrade_alone(site, start_server):
    """A failed upgrade is retried after Upgrade Error Retry Delay, on its own timer: the
    retry asks for the image only (no resync), and the periodic resync stays scheduled."""
    site.write(f"fv{SPA_MAC}.conf", "DBID_DBASE_VERSION=1\n")
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    base = f"http://127.0.0.1:{server.http_port}"
    live = LiveAgent("--profile", "spa", "--mac", SPA_MAC, "--model", "G502N", "--set",
                     "option66=0", "--set", "random_delay=0", "--set",
                     f"profile_rule={base}/fv$MAU.conf", "--set",
                     f"upgrade_rule={base}/fw-2.bin", "--set", "upgrade_error_retry_delay=1",
                     "--set", "resync_periodic=3600")
    try:
        live.wait(lambda e: e["event"] == "error" and "upgrade failed" in e["text"])
        live.wait(lambda e: e["event"] == "timer" and "Upgrade Error Retry Delay" in e["text"])
        mark = len(live.seen)
        live.wait(lambda e: e["text"].startswith("pass") and "Upgrade Error Retry" in e["text"])
        site.write("fw-2.bin", b"image 2")
        live.wait(lambda e: e["event"] == "firmware", timeout=20)
        live.wait(lambda e: e["event"] == "done" and e["ok"])
        fetches = [e for e in live.seen[mark:] if e["event"] == "fetch"]
        first_ok = next(i for i, e in enumerate(fetches) if e["status"] == "ok")
        # the retries ask for the image alone until it is installed
        assert {e["url"].rsplit("/", 1)[-1] for e in fetches[:first_ok + 1]} == {"fw-2.bin"}, \
            live.seen
        # and the retries left the periodic resync as it was scheduled
        installed = next(i for i, e in enumerate(live.seen) if e["event"] == "firmware")
        timers = [e["text"] for e in live.seen[:installed] if e["event"] == "timer"]
        assert timers.count("periodic resync in 3600 s") == 1, timers
    finally:
        live.stop()


def test_spa_with_provision_enable_off_ends_its_boot_at_once():
    """Provision Enable off: no resync, nothing fetched, the boot ends provisioned as it is
    (exit 0), rather than waiting out --timeout."""
    run = agent("spa", "--model", "IP542N", "--set", "enabled=0", "--dhcp-option",
                "66=127.0.0.1:9", "--timeout", "20", mac=SPA_MAC)
    assert run.code == 0 and not run.fetched(), run
    done = run.of("done")
    assert len(done) == 1 and done[0]["ok"] and "Provision Enable is off" in done[0]["text"], run


@pytest.mark.parametrize("value,files", [
    ("{url}/fw.img;cfg.cfg", ["fw.img", "cfg.cfg"]),
    ("{url}/;cfg.cfg", ["cfg.cfg"]),
    ("{url}/fw.img", ["fw.img"]),
    ("{url}", ["400HD.img", "400HD.cfg"]),
])
def test_audiocodes_option_160_forms(site, start_server, value, files):
    for name in ("fw.img", "400HD.img"):
        site.write(name, b"AC image version=3.4.8\n" + b"\0" * 100)
    for name in ("cfg.cfg", "400HD.cfg"):
        site.write(name, "system/type=400HD\nvoip/line/0/enabled=1\n")
    server = start_server(site)
    opt = value.format(url=f"tftp://127.0.0.1:{server.port}")
    run = agent("audiocodes", "--model", "400HD", "--firmware", "3.4.8",
                "--dhcp-option", f"160={opt}")
    assert run.fetched(first_pass=True) == files, run
    assert run.code == 0


def test_periodic_checks_by_default(site, start_server):
    """AudioCodes checks "routinely": a daily pass by default. FIP's Repeatedly is off
    unless resync_periodic is set (docs/agent.md says why)."""
    site.write("400HD.img", b"AC image version=3.4.8\n")
    site.write("400HD.cfg", "system/type=400HD\n")
    site.write("y000000000000.boot", "include:config <common.cfg>\n")
    site.write("common.cfg", "k=v\n")
    server = start_server(site)
    url = f"tftp://127.0.0.1:{server.port}"
    run = agent("audiocodes", "--model", "400HD", "--firmware", "3.4.8", "--dhcp-option",
                f"160={url}/400HD.img")
    assert run.code == 0 and [e["text"] for e in run.of("timer")] == [
        "periodic resync in 86400 s"], run
    fip = agent("fip", "--set", "pnp=0", "--server", url + "/", mac="0021f2000005")
    assert fip.code == 0 and not fip.of("timer"), fip
    on = agent("fip", "--set", "pnp=0", "--set", "resync_periodic=3600", "--server", url + "/",
               mac="0021f2000005")
    assert [e["text"] for e in on.of("timer")] == ["periodic resync in 3600 s"], on


def test_audiocodes_firmware_first_then_model_check(site, start_server):
    site.write("400HD.img", b"AC image version=3.5.0\n")
    site.write("400HD.cfg", "system/type=450HD\n")
    server = start_server(site)
    run = agent("audiocodes", "--model", "400HD", "--firmware", "3.4.8",
                "--dhcp-option", f"66=127.0.0.1:{server.port}")
    assert [e["event"] for e in run.of("firmware") + run.of("reboot")] == ["firmware", "reboot"]
    assert run.said("for model 450HD, not 400HD") and not run.of("apply") and run.code == 1, run


def test_panasonic_two_step(site, start_server, tmp_path):
    mac = "0080F0AABBCC"
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    base = f"http://127.0.0.1:{server.http_port}"
    site.write("pana/initial.cfg", "# PCC Standard Format File # DO NOT CHANGE THIS LINE!\n"
               f'CFG_STANDARD_FILE_PATH="{base}/pana/{{MAC}}.cfg"\n'
               f'CFG_ROOT_CERTIFICATE_PATH="{base}/pana/ca.pem"\n')
    site.write(f"pana/{mac}.cfg", 'SIP_AUTHID_1="6001"\n')
    site.write("pana/ca.pem", "-----BEGIN CERTIFICATE-----\n")
    out = tmp_path / "out"
    run = agent("panasonic", "--set", "pnp=0", "--server", f"{base}/pana/", mac=mac,
                output=out)
    assert run.fetched() == ["initial.cfg", "ca.pem", f"{mac}.cfg"], run
    assert (out / "cacert-ca.pem").exists() and run.of("apply") and run.code == 0


def test_panasonic_discovery_table_by_ip_mode(site, start_server):
    site.write("initial.cfg", 'CFG_STANDARD_FILE_PATH="tftp://127.0.0.1:9/x.cfg"\n')
    run = agent("panasonic", "--set", "pnp=0", "--set", "fetch_timeout=1",
                "--dhcp-option", "66=tftp://127.0.0.1:9/a", "--dhcp-option",
                "159=tftp://127.0.0.1:9/b", "--dhcp-option", "160=tftp://127.0.0.1:9/c")
    assert run.said("server from DHCP option 160"), run
    v6 = agent("panasonic", "--set", "pnp=0", "--set", "ip_mode=ipv6", "--set",
               "fetch_timeout=1", "--dhcp-option", "160=tftp://127.0.0.1:9/c")
    assert v6.said("no provisioning server") and v6.code == 1, v6


# --- servers nobody here wrote ---


def test_algo_against_tftpd_hpa(tmp_path):
    peers.skip_unless_root("tftpd-hpa")
    tree = tmp_path / "tree"
    tree.mkdir()
    conf = "audio.spk.vol = 3\nprov.data.tone = t.zip\n"
    for name, data in ((f"algom{MAC}.conf", conf), ("t.zip", "tones")):
        (tree / name).write_text(data)
        (tree / (name.rsplit(".", 1)[0] + ".md5")).write_text(md5(data) + "\n")
    peer = peers.TftpdHpa(tree, tmp_path / "tftpd")
    try:
        run = agent("algo", "--model", "8188", "--server", f"tftp://127.0.0.1:{peer.port}")
    finally:
        peer.stop()
    assert run.of("apply") and run.of("resource") and run.code == 0, run


@pytest.mark.parametrize("files,installed", [
    ({"sfw": "good"}, True),                  # an .sfw alone is accepted
    ({"sfw": "good", "md5": "bad"}, False),   # a .md5 beside it must match
    ({"sfw": "good", "md5": "good"}, True),
    ({"fw": "good"}, False),                  # a .fw needs its .md5
    ({"fw": "good", "md5": "good"}, True),
    ({"fw": "good", "md5": "bad"}, False),
])
def test_algo_firmware_sfw_or_fw_and_md5_against_tftpd_hpa(tmp_path, files, installed):
    """Seed 000 7.4a: ".fw & .md5 or .sfw". tftpd-hpa serves only what is there (no
    generated .md5)."""
    peers.skip_unless_root("tftpd-hpa")
    tree = tmp_path / "tree"
    tree.mkdir()
    fw = b"\x7fALGO firmware 5.4f" * 100
    conf = "prov.version.firmware = 5.4f\n"
    (tree / "algop8188.conf").write_text(conf)
    (tree / "algop8188.md5").write_text(md5(conf) + "\n")
    for kind, what in files.items():
        if kind == "md5":
            (tree / "algo-8188-5.4f.md5").write_text((md5(fw) if what == "good" else "0" * 32)
                                                     + "\n")
        else:
            (tree / f"algo-8188-5.4f.{kind}").write_bytes(fw)
    peer = peers.TftpdHpa(tree, tmp_path / "tftpd")
    try:
        run = agent("algo", "--model", "8188", "--firmware", "5.3", "--server",
                    f"tftp://127.0.0.1:{peer.port}", output=tmp_path / "out")
    finally:
        peer.stop()
    assert bool(run.of("firmware")) == installed, run
    if installed:
        assert (tmp_path / "out" / "firmware-5.4f").read_bytes() == fw
        assert run.code == 0, run
    else:
        assert run.code == 1 and run.said("not installed"), run
    asked = [n for n in run.fetched() if n.startswith("algo-")]
    order = ["sfw", "md5"] if "sfw" in files else ["sfw", "fw", "md5"]
    assert asked[:len(order)] == [f"algo-8188-5.4f.{ext}" for ext in order], run


def test_algo_two_stage_tftp_then_ftp_with_a_password(tmp_path, start_server):
    """Seed 000 15.1: a temporary TFTP server (tftpd-hpa) hands every endpoint a file that
    points it at the real FTP server, which wants a login; the next pass uses that server,
    protocol, path and login."""
    peers.skip_unless_root("tftpd-hpa")
    ftp_site = __import__("harness").Site(tmp_path / "ftp-site")
    ftp_site.conf("[auth]\nuser = algo:s3cret\n[ftp]\nanonymous = no\n")
    ftp = start_server(ftp_site, args=("--ftp", "127.0.0.1:0"), tftp="off")
    ftp_port = ftp.ports["ftp"]
    prov = ("prov.server.method = static\n"
            f"prov.server.static = 127.0.0.1:{ftp_port}\n"
            "prov.download.method = ftp\n"
            "prov.server.username = algo\nprov.server.password = s3cret\n"
            "prov.download.cfgpath = cfg\n")
    ftp_site.write(f"cfg/algom{MAC}.conf", prov + "sip.account = 2001\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "algop8188.conf").write_text(prov)
    (tree / "algop8188.md5").write_text(md5(prov) + "\n")
    peer = peers.TftpdHpa(tree, tmp_path / "tftpd")
    try:
        run = agent("algo", "--model", "8188", "--dhcp-option", f"66=127.0.0.1:{peer.port}",
                    state=tmp_path / "state")
    finally:
        peer.stop()
    urls = [e["url"] for e in run.of("fetch") if e["status"] == "ok"]
    assert urls[:2] == [f"tftp://127.0.0.1:{peer.port}/algop8188.conf",
                        f"tftp://127.0.0.1:{peer.port}/algop8188.md5"], run
    stage2 = f"ftp://127.0.0.1:{ftp_port}/cfg/algom{MAC}.conf"
    assert urls[2:] == [stage2, stage2], run  # applied, then found unchanged after the reboot
    assert [e["event"] for e in run.events if e["event"] in ("apply", "reboot", "done")] == [
        "apply", "reboot", "apply", "reboot", "done"], run
    assert run.code == 0 and run.said("already applied"), run
    saved = json.loads((tmp_path / "state" / "state.json").read_text())["config"]
    assert saved["sip.account"] == "2001"
    # the FTP server's own log: the endpoint logged in as algo
    assert f'RETR "/cfg/algom{MAC}.conf" sent' in ftp.log() and "user algo" in ftp.log(), \
        ftp.log()


AC_IMAGE = b"AC image version=3.4.8\n" + bytes(range(256)) * (16 << 12)  # 16 MiB


def ac_check(url, firmware="3.4.8"):
    return agent("audiocodes", "--model", "400HD", "--firmware", firmware,
                 "--dhcp-option", f"160={url}/400HD.img")


def ac_header_only(run):
    """The check read the header only: one firmware fetch, of at most 512 bytes."""
    fw = [e for e in run.of("fetch") if e["url"].endswith("/400HD.img")]
    assert run.code == 0 and len(fw) == 1 and 0 < fw[0]["bytes"] <= 512, run
    assert run.said("is running (read from its first") and not run.of("firmware"), run


def test_audiocodes_reads_only_the_header_over_tftp(site, start_server):
    """An unchanged version costs one TFTP block: autoprov's own log line of the transfer
    says how many bytes it sent; a new version downloads the whole image."""
    site.write("400HD.img", AC_IMAGE)
    server = start_server(site)
    url = f"tftp://127.0.0.1:{server.port}"
    ac_header_only(ac_check(url))
    # the server's line: the client answered the first block with an ERROR
    sent = server.wait_log(r'"400HD\.img" aborted, (\d+) bytes, .*: error from the client$')
    assert len(sent) == 1 and int(sent[0]) <= 1428, server.log()
    new = ac_check(url, firmware="3.4.7")
    fw = [e for e in new.of("fetch") if e["url"].endswith("/400HD.img")]
    # the header, the image; after the reboot the header again
    assert [e["bytes"] for e in fw] == [512, len(AC_IMAGE), 512], new
    assert new.of("firmware") and new.code == 0, new


def test_audiocodes_reads_only_the_header_over_http_and_ftp(tmp_path):
    """nginx answers the Range request 206 with 512 bytes (its access log); vsftpd's log
    shows a RETR that ended long before the image did (the agent aborted it). vsftpd counts
    what it wrote into its socket, its own send buffer included, so not 512."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "400HD.img").write_bytes(AC_IMAGE)
    (tree / "400HD.cfg").write_text("system/type=400HD\n")
    nginx = peers.Nginx(tree, tmp_path / "nginx")
    try:
        ac_header_only(ac_check(f"http://127.0.0.1:{nginx.port}"))
    finally:
        nginx.stop()
    access = (tmp_path / "nginx" / "nginx" / "access.log").read_text()
    assert '"GET /400HD.img HTTP/1.1" 206 512 ' in access, access
    peers.skip_unless_root("vsftpd")
    vsftpd = peers.Vsftpd(tree, tmp_path / "vsftpd")
    try:
        ac_header_only(ac_check(f"ftp://127.0.0.1:{vsftpd.port}"))
    finally:
        vsftpd.stop()
    log = (tmp_path / "vsftpd" / "vsftpd.log").read_text()
    sent = [int(line.rsplit(", ", 2)[1].split()[0]) for line in log.splitlines()
            if "DOWNLOAD" in line and "400HD.img" in line]
    assert sent and max(sent) < len(AC_IMAGE) // 2, log


def test_fip_against_nginx(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    mac = "0021f2000003"
    (tree / "y000000000000.boot").write_text("include:config <y000000000000.cfg>\n")
    (tree / "y000000000000.cfg").write_text("k=v\n")
    peer = peers.Nginx(tree, tmp_path / "nginx")
    try:
        run = agent("fip", "--server", f"http://127.0.0.1:{peer.port}/", mac=mac)
    finally:
        peer.stop()
    assert run.fetched("ok") == ["y000000000000.boot", "y000000000000.cfg"], run
    assert run.of("apply") and run.code == 0


@pytest.mark.parametrize("scheme", ["tftp", "ftp", "http", "https"])
def test_fip_include_urls_with_spaces(tmp_path, scheme):
    """Seed 002's own example, `include:config "HTTP Directory/sip.cfg"`, relative to the
    boot file and absolute, with characters RFC 3986 wants encoded: each protocol's server
    receives the name (tftpd-hpa, vsftpd, nginx over HTTP and HTTPS)."""
    tree = tmp_path / "tree"
    mac = "0021f2000004"
    files = {"HTTP Directory/sip.cfg": "sip.server=10.0.0.9\n",
             "Phone Books/book [1].cfg": "lang.gui=Chinese S\n"}
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    extra = []
    if scheme == "tftp":
        peer = peers.TftpdHpa(tree, tmp_path / "peer")
    elif scheme == "ftp":
        peer = peers.Vsftpd(tree, tmp_path / "peer")
    else:
        from pki import Pki
        pki = Pki(tmp_path / "pki")
        peer = peers.Nginx(tree, tmp_path / "peer", cert=pki.server, key=pki.server_key,
                           client_ca=pki.ca)
        extra = ["--set", f"ca_file={pki.ca}"]
    port = peer.tls_port if scheme == "https" else peer.port
    base = f"{scheme}://127.0.0.1:{port}"
    (tree / "y000000000000.boot").write_text(
        'include:config "HTTP Directory/sip.cfg"\n'
        f'include:config "{base}/Phone Books/book [1].cfg"\n')
    peers.world_readable(tree)
    try:
        run = agent("fip", "--server", f"{base}/", *extra, mac=mac)
    finally:
        peer.stop()
    assert [e["url"] for e in run.of("fetch") if e["status"] == "ok"] == [
        f"{base}/y000000000000.boot", f"{base}/HTTP%20Directory/sip.cfg",
        f"{base}/Phone%20Books/book%20%5B1%5D.cfg"], run
    assert run.of("apply") and run.code == 0, run


def test_spa_profile_rule_without_a_server_uses_option_66(tmp_path):
    """Seed 001: "[scheme://][server IP or domain[:port]]/file path". A rule that is only a
    path takes the server the device has, DHCP option 66's, even with Option 66 off."""
    tree = tmp_path / "tree"
    (tree / "cfg").mkdir(parents=True)
    (tree / "IP542N.conf").write_text("DBID_DBASE_VERSION=1\n")
    (tree / "cfg" / f"{SPA_MAC.lower()}.conf").write_text("DBID_DBASE_VERSION=2\n")
    peer = peers.TftpdHpa(tree, tmp_path / "tftpd")
    try:
        runs = [agent("spa", "--model", "IP542N", "--set", "option66=0", "--set",
                      "random_delay=0", "--set", f"profile_rule={rule}", "--dhcp-option",
                      f"66=127.0.0.1:{peer.port}", mac=SPA_MAC)
                for rule in ("/IP542N.conf", "[--key k]tftp:///cfg/$MA.conf")]
        alone = agent("spa", "--set", "option66=0", "--set", "random_delay=0", "--set",
                      "profile_rule=/IP542N.conf", "--set", "fetch_timeout=2", mac=SPA_MAC)
    finally:
        peer.stop()
    assert runs[0].fetched("ok") == ["IP542N.conf"] and runs[0].of("apply"), runs[0]
    assert runs[0].said("the Profile Rule names no server: DHCP option 66's"), runs[0]
    assert runs[0].code == 0, runs[0]
    # the key is the rule's: the plain profile does not decrypt, but it was fetched
    assert runs[1].fetched("ok") == [f"{SPA_MAC.lower()}.conf"], runs[1]
    assert alone.said("it names no server and no DHCP option 66 was received"), alone
    assert alone.code == 1 and not alone.of("fetch"), alone


def test_panasonic_relative_paths_resolve_against_the_initial_file(tmp_path):
    """Seed 003: relative CFG_STANDARD_FILE_PATH / CFG_ROOT_CERTIFICATE_PATH in the initial
    file resolve against the initial file's URL (RFC 3986), here served by nginx."""
    mac = "0080F0AABBCD"
    tree = tmp_path / "tree"
    (tree / "pana" / "dev").mkdir(parents=True)
    (tree / "certs").mkdir()
    (tree / "pana" / "initial.cfg").write_text(
        "# PCC Standard Format File # DO NOT CHANGE THIS LINE!\n"
        'CFG_STANDARD_FILE_PATH="dev/{MAC}.cfg"\n'
        'CFG_ROOT_CERTIFICATE_PATH="../certs/ca.pem"\n')
    (tree / "pana" / "dev" / f"{mac}.cfg").write_text('SIP_AUTHID_1="6001"\n')
    (tree / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    peer = peers.Nginx(tree, tmp_path / "nginx")
    base = f"http://127.0.0.1:{peer.port}"
    try:
        run = agent("panasonic", "--set", "pnp=0", "--server", f"{base}/pana/", mac=mac)
    finally:
        peer.stop()
    assert [e["url"] for e in run.of("fetch") if e["status"] == "ok"] == [
        f"{base}/pana/initial.cfg", f"{base}/certs/ca.pem", f"{base}/pana/dev/{mac}.cfg"], run
    assert run.of("resource") and run.of("apply") and run.code == 0, run


@pytest.mark.parametrize("scheme", ["http", "tftp", "ftp"])
def test_panasonic_redirection_server_gives_the_provisioning_server(tmp_path, scheme):
    """Seed 003's last source: the redirection server (nginx) answers 302 with the
    provisioning URL, a directory; that URL becomes the server (over its own protocol,
    tftpd-hpa or vsftpd), its initial file fetched from it, not the 302 followed as a
    file."""
    mac = "0080F0AABBCE"
    tree = tmp_path / "tree"
    (tree / "prov").mkdir(parents=True)
    (tree / "prov" / "initial.cfg").write_text('CFG_STANDARD_FILE_PATH="{MAC}.cfg"\n')
    (tree / "prov" / f"{mac}.cfg").write_text('SIP_AUTHID_1="6002"\n')
    files, target = None, "prov/"
    if scheme == "tftp":
        files = peers.TftpdHpa(tree, tmp_path / "tftpd")
    elif scheme == "ftp":
        files = peers.Vsftpd(tree, tmp_path / "vsftpd")
    if files:
        target = f"{scheme}://127.0.0.1:{files.port}/prov/"
    redirector = peers.Nginx(tree, tmp_path / "nginx", redirect=target)
    try:
        run = agent("panasonic", "--set", "pnp=0", "--set",
                    f"redirect_server=http://127.0.0.1:{redirector.port}/redirect", mac=mac)
    finally:
        redirector.stop()
        if files:
            files.stop()
    if not files:
        target = f"http://127.0.0.1:{redirector.port}/prov/"
    assert run.said(f"server from redirection server: {target}"), run
    assert [e["url"] for e in run.of("fetch") if e["status"] == "ok"] == [
        f"{target}initial.cfg", f"{target}{mac}.cfg"], run
    assert run.of("apply") and run.code == 0, run


def test_panasonic_redirection_url_without_protocol_ends_the_pass_once():
    run = agent("panasonic", "--set", "pnp=0", "--set", "redirect_server=nohost/x",
                mac="0080F0AABBCF")
    assert [e["text"] for e in run.of("error")] == [
        "cannot download nohost/x: no protocol (tftp://, ftp://, http:// or https://)"], run
    assert run.code == 1, run


def test_spa_against_vsftpd(tmp_path):
    peers.skip_unless_root("vsftpd")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "G502N.conf").write_text("DBID_DBASE_VERSION=3\n")
    peer = peers.Vsftpd(tree, tmp_path / "vsftpd")
    try:
        run = agent("spa", "--model", "G502N", "--set", "option66=0", "--set",
                    "random_delay=0", "--set",
                    f"profile_rule=ftp://127.0.0.1:{peer.port}/$PN.conf", mac=SPA_MAC)
    finally:
        peer.stop()
    assert run.of("apply") and run.code == 0, run


def test_algo_over_ftp_never_stalls_against_vsftpd(tmp_path):
    """libcurl before 8.4.0 leaves an FTP transfer waiting on no socket when the EPSV reply
    is already readable as the command goes out (curl issue 12033), and the boot hung until
    fetch_timeout. The server winning that race is the rule when it shares one CPU with the
    agent: pinned so, every boot used to hang. 12 boots of 16 FTP downloads each, over one
    reused control connection: none may time out."""
    peers.skip_unless_root("vsftpd")
    tree = tmp_path / "tree"
    tree.mkdir()
    kinds = ("tone", "sched", "display", "icon", "image", "cacert")
    conf = "audio.spk.vol = 3\n" + "".join(f"prov.data.{k} = {k}.zip\n" for k in kinds)
    files = {"algop8188.conf": conf, **{f"{k}.zip": k for k in kinds}}
    for name, data in files.items():
        (tree / name).write_text(data)
        (tree / (name.rsplit(".", 1)[0] + ".md5")).write_text(md5(data) + "  " + name + "\n")
    cpu = {min(os.sched_getaffinity(0))}
    peer = peers.Vsftpd(tree, tmp_path / "vsftpd")
    os.sched_setaffinity(peer.proc.pid, cpu)  # its sessions are forked afterwards
    cmd = [str(BIN), "agent", "--profile", "algo", "--mac", MAC, "--model", "8188", "--json",
           "--timeout", "60", "--server", f"ftp://127.0.0.1:{peer.port}", "--set",
           "fetch_timeout=2"]
    try:
        runs = [Run(subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                                   preexec_fn=lambda: os.sched_setaffinity(0, cpu)))
                for _ in range(12)]
    finally:
        peer.stop()
    hung = [r for r in runs if any(e["status"] == "timed out" for e in r.of("fetch"))]
    assert not hung, f"{len(hung)} of {len(runs)} boots hung:\n{hung[0]!r}"
    for run in runs:
        assert len(run.of("resource")) == len(kinds) and run.code == 0, run


def test_agent_usage_errors():
    p = subprocess.run([str(BIN), "agent", "--profile", "nope", "--mac", MAC],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "unknown profile" in p.stderr
    p = subprocess.run([str(BIN), "agent", "--profile", "algo", "--mac", MAC, "--set",
                        "bogus=1"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown setting" in p.stderr
    p = subprocess.run([str(BIN), "agent", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--profile" in p.stdout


# --- the check-sync listener ---


class LiveAgent:
    """An agent started with --stay, its JSON events read as they come."""

    def __init__(self, *args):
        import queue
        import threading
        self.proc = subprocess.Popen(
            [str(BIN), "agent", "--json", "--stay", "--timeout", "60", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait(self, pred, timeout=15):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=0.2)
            except Exception:
                continue
            self.seen.append(e)
            if pred(e):
                return e
        raise AssertionError(f"event not seen; got: {self.seen}")

    def stop(self):
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        assert not sanitizer_report(err), err


def notify(port, event, auth=None, cseq=1):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        me = s.getsockname()[1]
        uri = f"sip:{MAC}@127.0.0.1:{port}"
        msg = (f"NOTIFY {uri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{cseq}x\r\n"
               f"From: <sip:admin@127.0.0.1>;tag=t{cseq}\r\nTo: <{uri}>\r\n"
               f"Call-ID: cs{cseq}@test\r\nCSeq: {cseq} NOTIFY\r\nEvent: {event}\r\n"
               + (f"Authorization: {auth}\r\n" if auth else "")
               + "Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", port))
        data = s.recv(65535).decode()
    return int(data.split(" ", 2)[1]), data, uri


def test_check_sync_notify_resyncs_and_reboots(site, start_server):
    algo_site(site, {"algop8188.conf": "a = 1\n"})
    server = start_server(site)
    sip = peers.free_port(__import__("socket").SOCK_DGRAM)
    live = LiveAgent("--profile", "algo", "--mac", MAC, "--model", "8188", "--server",
                     f"tftp://127.0.0.1:{server.port}", "--set", f"sip_listen=127.0.0.1:{sip}")
    try:
        live.wait(lambda e: e["event"] == "done")
        code, _, _ = notify(sip, "check-sync")
        assert code == 200
        live.wait(lambda e: e["text"].startswith("pass") and "check-sync" in e["text"])
        live.wait(lambda e: e["event"] == "done")
        code, _, _ = notify(sip, "check-sync;reboot=true", cseq=2)
        assert code == 200
        live.wait(lambda e: e["event"] == "reboot")
        live.wait(lambda e: e["event"] == "done")
        code, data, _ = notify(sip, "presence", cseq=3)
        assert code == 489, data
    finally:
        live.stop()


def test_check_sync_needs_digest_when_the_endpoint_has_a_password(site, start_server):
    algo_site(site, {"algop8188.conf": "a = 1\n"})
    server = start_server(site)
    sip = peers.free_port(__import__("socket").SOCK_DGRAM)
    live = LiveAgent("--profile", "algo", "--mac", MAC, "--model", "8188", "--server",
                     f"tftp://127.0.0.1:{server.port}", "--set", f"sip_listen=127.0.0.1:{sip}",
                     "--set", "sip_user=2001", "--set", "sip_password=pw")
    try:
        live.wait(lambda e: e["event"] == "done")
        code, data, uri = notify(sip, "check-sync")
        assert code == 401, data
        line = next(l for l in data.split("\r\n") if l.startswith("WWW-Authenticate"))
        realm = line.split('realm="')[1].split('"')[0]
        nonce = line.split('nonce="')[1].split('"')[0]

        def auth(password):
            ha1 = md5(f"2001:{realm}:{password}")
            ha2 = md5(f"NOTIFY:{uri}")
            resp = md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
            return (f'Digest username="2001", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                    f'response="{resp}", cnonce="abc", nc=00000001, qop=auth, algorithm=MD5')
        assert notify(sip, "check-sync", auth=auth("wrong"), cseq=2)[0] == 401
        # a wrong answer drew a new nonce: answer that one
        code, data, _ = notify(sip, "check-sync", cseq=3)
        line = next(l for l in data.split("\r\n") if l.startswith("WWW-Authenticate"))
        nonce = line.split('nonce="')[1].split('"')[0]
        assert notify(sip, "check-sync", auth=auth("pw"), cseq=4)[0] == 200
        live.wait(lambda e: "check-sync" in e["text"] and e["text"].startswith("pass"))
    finally:
        live.stop()


def test_fip_finds_the_server_by_sip_pnp(site, start_server, tmp_path):
    """The agent's SUBSCRIBE to autoprov's PnP responder; the NOTIFY's URL is then used."""
    mac = "0021f2000009"
    site.write("y000000000000.boot", "include:config <common.cfg>\n")
    site.write("common.cfg", "k=v\n")
    tftp = peers.free_port(__import__("socket").SOCK_DGRAM)
    site.conf(f"[sip]\nurl = tftp://127.0.0.1:{tftp}/\n")
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp=f"127.0.0.1:{tftp}")
    run = agent("fip", "--set", f"pnp_address=127.0.0.1:{server.ports['sip']}",
                "--set", "pnp_timeout=3", mac=mac)
    assert run.said("server from SIP PnP"), run
    assert run.fetched("ok") == ["y000000000000.boot", "common.cfg"], run
    assert run.code == 0


def pnp_request_line(profile, mac, *args):
    """The Request-URI line of the SUBSCRIBE the agent sends, as a socket receives it."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(10)
        port = s.getsockname()[1]
        proc = subprocess.Popen([str(BIN), "agent", "--profile", profile, "--mac", mac, "--json",
                                 "--timeout", "20", "--set", f"pnp_address=127.0.0.1:{port}",
                                 "--set", "pnp_timeout=1", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            data = s.recv(65535).decode()
        finally:
            out, err = proc.communicate(timeout=30)
    assert not sanitizer_report(err), err
    return data.split("\r\n", 1)[0]


def test_pnp_request_uri_per_vendor():
    """FIP: the seed's capture, `SUBSCRIBE sip:MAC0021f222b01d@224.0.1.75`; Panasonic keeps
    the MAC%3a form."""
    line = pnp_request_line("fip", "0021F222B01D")
    assert line == "SUBSCRIBE sip:MAC0021f222b01d@127.0.0.1 SIP/2.0", line
    line = pnp_request_line("panasonic", "0080F0AABBCC")
    assert line == "SUBSCRIBE sip:MAC%3a0080F0AABBCC@127.0.0.1 SIP/2.0", line


def test_pnp_without_answer_moves_on_to_dhcp(site, start_server):
    mac = "0021f200000a"
    site.write("y000000000000.boot", "include:config <common.cfg>\n")
    site.write("common.cfg", "k=v\n")
    server = start_server(site)
    silent = peers.free_port(__import__("socket").SOCK_DGRAM)
    run = agent("fip", "--set", f"pnp_address=127.0.0.1:{silent}", "--set", "pnp_timeout=1",
                "--dhcp-option", f"66=tftp://127.0.0.1:{server.port}", mac=mac)
    assert run.said("SIP PnP: no NOTIFY received") and run.said("server from DHCP option 66")
    assert run.code == 0, run


def test_algo_sync_window_schedules_the_next_pass(site, start_server):
    algo_site(site, {"algop8188.conf": "a = 1\n"})
    server = start_server(site)
    run = agent("algo", "--model", "8188", "--server", f"tftp://127.0.0.1:{server.port}",
                "--set", "sync_start=02:00:00", "--set", "sync_end=02:30",
                "--set", "sync_days=sun")
    timer = [e["text"] for e in run.of("timer") if "sync window" in e["text"]]
    assert timer, run
    seconds = float(timer[-1].split(" in ")[1].split()[0])
    assert 0 < seconds <= 7 * 86400 + 1800, timer
    for setting, why in (("sync_start=25:00", "time of day"), ("fetch_timeout=soon", "number"),
                         ("partial=yes", "number")):
        bad = subprocess.run([str(BIN), "agent", "--profile", "algo", "--mac", MAC, "--set",
                              setting], capture_output=True, text=True)
        assert bad.returncode == 2 and why in bad.stderr, bad.stderr
