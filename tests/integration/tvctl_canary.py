#!/usr/bin/env python3
"""tests/integration/tvctl_canary.py: tvctl never prints a secret, and fails clearly on bad input.

usage: tvctl_canary.py TVCTL SEED_STORE

Stores credentials whose secrets are unique canary strings (seed_store, and imports from fake Codex and
mcp-remote files), runs every tvctl command with and without --json (plus --help and --stats), and asserts
that no canary appears in any stdout, stderr, event line or file tvctl and the resolution log leave
behind. Bad input (unknown command or flag, an id that is not a URL, a missing store, a store sealed by
an unavailable keyring tier, a corrupt resolution log, a busy store, no terminal) must give a clear
message on stderr, the documented non-zero exit code, valid JSON with --json, and no stack trace.
Every command runs with stdin from /dev/null (no terminal). Prints 'N passed, N failed' last.
"""
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

TVCTL, SEED = sys.argv[1], sys.argv[2]
CANARY = "CANARY" + secrets.token_hex(8)
IMPORT_CANARY = "IMPCANARY" + secrets.token_hex(8)
CANARIES = [CANARY, IMPORT_CANARY]
STACK_TRACE_MARKS = ["terminate called", "Traceback", "Aborted", "what():", "AddressSanitizer", "runtime error:",
                     "Segmentation fault", "core dumped"]

passed = 0
failed = 0
transcript = []  # every output tvctl produced, searched for canaries at the end


def check(condition, what, detail=""):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}" + (f"\n  {detail}" if detail else ""), flush=True)


def tvctl(*args, expect=0, env=None, stderr_has=None):
    """Runs tvctl with stdin from /dev/null; checks the exit code, JSON, stack traces; returns (out, err)."""
    proc = subprocess.run([TVCTL, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", env=env, timeout=60)
    out, err = proc.stdout, proc.stderr
    transcript.append((" ".join(args), out, err))
    label = "tvctl " + " ".join(args)
    check(proc.returncode == expect, f"{label}: exit {proc.returncode}, expected {expect}",
          f"stdout: {out[:600]}\n  stderr: {err[:600]}")
    for mark in STACK_TRACE_MARKS:
        check(mark not in out + err, f"{label}: no stack trace ({mark!r})", err[:400])
    if expect != 0:
        check(err.strip() != "", f"{label}: a message on stderr for exit {expect}")
        check("error" in err or "problem" in err or "warning" in err, f"{label}: stderr says what is wrong", err)
    if stderr_has is not None:
        check(stderr_has in err, f"{label}: stderr mentions {stderr_has!r}", err[:600])
    if "--json" in args and "--help" not in args:
        try:
            doc = json.loads(out)
            check(isinstance(doc, dict) and "ok" in doc, f"{label}: --json prints an object with 'ok'")
            check(doc.get("ok") == (expect == 0), f"{label}: 'ok' matches the exit code", out[:300])
        except ValueError:
            check(False, f"{label}: --json output parses as one JSON document", out[:600])
    return out, err


def seed(directory, count, mode="embedded"):
    proc = subprocess.run([SEED, directory, "canary-app", str(count), CANARY, mode], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    transcript.append(("seed " + mode, proc.stdout, proc.stderr))  # every event of every store operation
    return proc.returncode


def main():
    root = tempfile.mkdtemp(prefix="tvctl-canary-")
    os.chmod(root, 0o700)
    env = dict(os.environ, HOME=os.path.join(root, "home"), XDG_CONFIG_HOME=os.path.join(root, "config"))
    env.pop("TVCTL_KEYRING", None)
    os.makedirs(env["HOME"], mode=0o700)
    store = os.path.join(root, "store")
    common = ["--app", "canary-app", "--dir", store]
    try:
        check(seed(store, 4) == 0, "seed the embedded store")
        url = "https://mcp1.example.com/mcp"

        # Help on every command, with and without a terminal.
        out, _ = tvctl("--help")
        check("Exit codes" in out and "list" in out and "doctor" in out, "tvctl --help lists commands and exit codes")
        for command in ["list", "show", "remove", "logout", "status", "doctor", "import"]:
            out, _ = tvctl(command, "--help")
            check("--json" in out, f"tvctl {command} --help documents --json")

        # Every command, text and JSON.
        for extra in ([], ["--json"]):
            out, _ = tvctl("list", *common, *extra)
            check("mcp1.example.com" in out, f"list {extra} shows the ids")
            out, _ = tvctl("show", url, *common, *extra)
            check("<redacted>" in out, f"show {extra} redacts the secrets")
            tvctl("show", "https://mcp0.example.com/mcp", "--account", "alice", *common, *extra)
            tvctl("status", *common, *extra)
            tvctl("doctor", *common, *extra)
        out, _ = tvctl("list", "--json", *common)
        doc = json.loads(out)
        check(doc["count"] == 5 and doc["tier"] == "file", "list --json: 5 credentials, key tier file", out[:300])
        check(all("access_token" not in c for c in doc["credentials"]), "list --json has no token fields")
        out, err = tvctl("--stats", "list", *common)
        check("keyring_reads=1" in err, "--stats: one keyring read for list", err)

        # import: Codex's file store and mcp-remote files, holding canaries too.
        codex_home = os.path.join(root, "codex")
        os.makedirs(codex_home, mode=0o700)
        codex_file = os.path.join(codex_home, ".credentials.json")
        with open(codex_file, "w", encoding="utf-8") as f:
            json.dump({"k1": {"server_name": "imported", "server_url": "https://codex.example.com/mcp",
                              "client_id": "codex-client", "access_token": IMPORT_CANARY + "-codex-access",
                              "refresh_token": IMPORT_CANARY + "-codex-refresh", "expires_at": 4102444800000,
                              "scopes": ["read"]}}, f)
        os.chmod(codex_file, 0o600)
        for extra, code in (([], 0), (["--json"], 8)):  # the second run finds nothing new: exit 8
            tvctl("import", "codex", "--codex-home", codex_home, *common, *extra, expect=code)
        out, _ = tvctl("show", "https://codex.example.com/mcp", "--json", *common)
        check(json.loads(out)["credential"]["refresh_token"] == "<redacted>", "imported Codex login is stored")

        mcp_auth = os.path.join(root, "mcp-auth", "mcp-remote-0.1.18")
        os.makedirs(mcp_auth, mode=0o700)
        remote_url = "https://remote.example.com/mcp"
        digest = hashlib.md5(remote_url.encode()).hexdigest()
        tokens_file = os.path.join(mcp_auth, digest + "_tokens.json")
        with open(tokens_file, "w", encoding="utf-8") as f:
            json.dump({"access_token": IMPORT_CANARY + "-remote-access", "token_type": "Bearer",
                       "refresh_token": IMPORT_CANARY + "-remote-refresh", "expires_in": 3600}, f)
        os.chmod(tokens_file, 0o600)
        tvctl("import", "mcp-remote", "--server", remote_url, "--mcp-remote-dir", os.path.dirname(mcp_auth),
              "--json", *common)
        out, _ = tvctl("show", remote_url, *common)
        check("<redacted>" in out, "imported mcp-remote login is stored")
        tvctl("import", "mcp-remote", *common, expect=2, stderr_has="--server")
        tvctl("import", "mcp-remote", "--server", "not a url", *common, expect=2)
        tvctl("import", "nosuchtool", *common, expect=2)

        # Bad input.
        tvctl("frobnicate", *common, expect=2, stderr_has="unknown command 'frobnicate'")
        tvctl("frobnicate", "--json", expect=2)
        tvctl("list", "--frobnicate", *common, expect=2, stderr_has="frobnicate")
        tvctl("--frobnicate", expect=2)
        tvctl(expect=2)  # no command at all
        tvctl("show", "not-a-url", *common, expect=2, stderr_has="not a credential id")
        tvctl("show", "not-a-url", "--json", *common, expect=2)
        tvctl("show", "ftp://mcp1.example.com/mcp", *common, expect=2, stderr_has="http")
        tvctl("remove", "https://user:" + CANARY + "@mcp1.example.com/", *common, expect=2)  # user info: refused
        tvctl("show", "https://absent.example.com/mcp", *common, expect=3, stderr_has="no credential")
        tvctl("remove", "https://absent.example.com/mcp", "--json", *common, expect=3)
        tvctl("show", *common, expect=2)  # missing id
        tvctl("logout", *common, expect=2, stderr_has="--all")
        tvctl("--timeout", "0", "list", *common, expect=2)
        tvctl("--keyring", "nosuch", "list", *common, expect=2)
        missing = os.path.join(root, "no-such-store")
        for command in (["list"], ["show", url], ["remove", url], ["logout", "--all", "--yes"], ["status"], ["doctor"]):
            tvctl(*command, "--app", "canary-app", "--dir", missing, expect=4, stderr_has="no token store")
        check(not os.path.exists(missing), "read-only commands do not create a missing store")
        tvctl("list", "--json", "--app", "canary-app", "--dir", missing, expect=4)
        empty_dir = os.path.join(root, "empty")
        os.makedirs(empty_dir, mode=0o700)
        tvctl("list", "--app", "canary-app", "--dir", empty_dir, expect=4, stderr_has="no token store file")

        # A store holding an entry this build cannot read: the others are listed, doctor names the entry.
        odd_store = os.path.join(root, "unreadable")
        check(seed(odd_store, 2, "unreadable") == 0, "seed a store with an unreadable entry")
        odd = ["--app", "canary-app", "--dir", odd_store]
        odd_hash = hashlib.sha256(b"tokenvault-credential-v1\nhttps://odd.example.com/mcp\n").hexdigest()
        out, err = tvctl("list", *odd)
        check("mcp0.example.com" in out and "odd.example.com" not in out, "list shows the readable entries only", out)
        check("unreadable" in err and "doctor" in err, "list warns about the unreadable entry", err)
        out, _ = tvctl("list", "--json", *odd)
        check(json.loads(out)["count"] == 2, "list --json counts the readable entries", out[:300])
        out, err = tvctl("doctor", *odd, expect=6, stderr_has=odd_hash[:12])
        check("expires_at" in out and "log in" in out, "doctor says what is wrong with the entry and the fix", out)
        out, _ = tvctl("doctor", "--json", *odd, expect=6)
        entries = [c for c in json.loads(out)["checks"] if c["check"].startswith("entry ")]
        check(len(entries) == 1 and entries[0]["status"] == "problem" and "fix" in entries[0],
              "doctor --json lists the unreadable entry as a problem with a fix", out[:600])
        tvctl("remove", "https://mcp1.example.com/mcp", *odd)
        out, _ = tvctl("doctor", "--json", *odd, expect=6)
        check(sum(c["check"].startswith("entry ") for c in json.loads(out)["checks"]) == 1,
              "the unreadable entry survives a write of another credential", out[:600])

        # A store sealed by a keyring tier that tvctl cannot open.
        sealed_elsewhere = os.path.join(root, "memory-tier")
        check(seed(sealed_elsewhere, 2, "memory_tier") == 0, "seed a store sealed by the memory tier")
        elsewhere = ["--app", "canary-app", "--dir", sealed_elsewhere]
        tvctl("list", *elsewhere, expect=5, stderr_has="memory")
        tvctl("show", url, "--json", *elsewhere, expect=5)
        tvctl("status", *elsewhere, expect=5)
        tvctl("doctor", *elsewhere, expect=6, stderr_has="store header")

        # The key file of an embedded store went missing: said so, nothing is created.
        lost = os.path.join(root, "lost-key")
        check(seed(lost, 1) == 0, "seed a store whose key file will go missing")
        shutil.rmtree(os.path.join(lost, "keyring"))
        tvctl("list", "--app", "canary-app", "--dir", lost, expect=5, stderr_has="key file")
        check(not os.path.exists(os.path.join(lost, "keyring")), "no new key file is made for an existing store")

        # A damaged key (a 31-byte passphrase): its own message, exit 5, nothing moved or created.
        damaged = os.path.join(root, "damaged-key")
        check(seed(damaged, 1) == 0, "seed a store whose key file will be damaged")
        passphrase = os.path.join(damaged, "keyring", "passphrase")
        with open(passphrase, "r+b") as f:
            f.truncate(31)
        d = ["--app", "canary-app", "--dir", damaged]
        _, err = tvctl("list", *d, expect=5, stderr_has="damaged")
        check("moved aside" not in err and "log in again;" not in err, "a damaged key is not called corrupt", err)
        out, _ = tvctl("doctor", "--json", *d, expect=6)
        check(any("restore the damaged key" in c.get("fix", "") for c in json.loads(out)["checks"]),
              "doctor: restore the damaged key", out[:800])
        check(os.path.getsize(passphrase) == 31, "the damaged passphrase is left as it is")
        check(not [n for n in os.listdir(damaged) if ".corrupt-" in n], "nothing is quarantined for a damaged key")

        # Unsafe files: doctor says how to fix each; the store refuses them.
        unsafe = os.path.join(root, "unsafe")
        check(seed(unsafe, 1) == 0, "seed a store to make unsafe")
        u = ["--app", "canary-app", "--dir", unsafe]
        sealed = os.path.join(unsafe, "tokens.sealed")
        os.chmod(sealed, 0o644)
        tvctl("list", *u, expect=1, stderr_has="chmod 600")
        out, _ = tvctl("doctor", "--json", *u, expect=6)
        check(any(c.get("fix", "").startswith("chmod 600") for c in json.loads(out)["checks"]), "doctor: chmod 600")
        os.chmod(sealed, 0o600)
        os.rename(sealed, sealed + ".real")
        os.symlink(sealed + ".real", sealed)
        tvctl("list", *u, expect=1, stderr_has="symbolic link")
        tvctl("doctor", *u, expect=6, stderr_has="symbolic link")
        os.remove(sealed)
        os.rename(sealed + ".real", sealed)
        # Certain corruption: the store moves the file aside (and says so); doctor reports the quarantine.
        with open(sealed, "r+b") as f:
            f.write(b"garbage!")
        tvctl("list", *u, expect=1, stderr_has="moved aside")
        out, _ = tvctl("doctor", *u)  # quarantined files are a warning; no store file is no problem
        check("quarantined" in out and "WARN" in out, "doctor reports the quarantined file", out[:800])
        copies = [n for n in os.listdir(unsafe) if n.startswith("tokens.sealed.corrupt-")]
        check(len(copies) == 1 and os.path.join(unsafe, copies[0]) in out, "doctor names the quarantine copy",
              out[:800])

        # With a Secret Service (run_with_keyring.sh): a desktop store, and the same store without one.
        if os.environ.get("TOKENVAULT_TEST_SECRET_SERVICE") == "1":
            desktop = os.path.join(root, "desktop")
            rc = seed(desktop, 2, "desktop")
            if rc != 3:  # 3: this build has no Secret Service support
                check(rc == 0, "seed a desktop store (key in the Secret Service)")
                d = ["--app", "canary-app", "--dir", desktop]
                tvctl("list", *d, expect=5, stderr_has="--keyring desktop")
                tvctl("list", "--keyring", "desktop", *d)
                tvctl("list", "--keyring", "auto", "--json", *d)
                tvctl("status", "--keyring", "desktop", *d)
                tvctl("doctor", "--keyring", "desktop", *d)
                no_bus = dict(env)
                no_bus.pop("DBUS_SESSION_BUS_ADDRESS", None)
                no_bus["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + os.path.join(root, "no-bus")
                tvctl("list", "--keyring", "desktop", *d, env=no_bus, expect=5, stderr_has="unavailable")
                tvctl("doctor", "--keyring", "desktop", "--json", *d, env=no_bus, expect=6)

        # A busy store: another process holds the store lock.
        with open(os.path.join(store, "tokens.sealed.lock"), "r+b") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            tvctl("--timeout", "200", "list", *common, expect=7, stderr_has="lock")
            out, _ = tvctl("--timeout", "200", "status", "--json", *common, expect=7)
            check(json.loads(out)["lock"]["state"] == "held", "status reports the held lock")

        # A corrupt resolution log: token commands are unaffected; status and doctor report it.
        log = os.path.join(store, "resolutions.json")
        with open(log, "w", encoding="utf-8") as f:
            f.write("{ this is not json " + CANARY[:3])
        os.chmod(log, 0o600)
        tvctl("list", *common)
        tvctl("status", *common, expect=6, stderr_has="resolution log")
        tvctl("status", "--json", *common, expect=6)
        tvctl("doctor", *common, expect=6, stderr_has="resolution log")

        # No terminal: logout --all needs --yes.
        tvctl("logout", "--all", *common, expect=2, stderr_has="not a terminal")
        tvctl("logout", "--all", "--json", *common, expect=2)
        out, _ = tvctl("list", "--json", *common)
        check(json.loads(out)["count"] == 7, "nothing was removed without confirmation", out[:200])

        # Removing: one, then the rest.
        tvctl("remove", url, *common)
        tvctl("logout", "https://mcp2.example.com/mcp", "--json", *common)
        tvctl("show", url, *common, expect=3)
        out, _ = tvctl("logout", "--all", "--yes", "--json", *common)
        check(len(json.loads(out)["removed"]) == 5, "logout --all removed the rest", out[:300])
        out, _ = tvctl("list", *common)
        check("no credentials" in out, "the store is empty after logout --all")
        tvctl("logout", "--all", *common)  # nothing left: no confirmation needed

        # No canary anywhere: outputs, seed events, and every file outside the sealed stores.
        for label, out, err in transcript:
            for canary in CANARIES:
                check(canary not in out and canary not in err, f"no canary in the output of {label}",
                      (out + err)[:300])
        for directory, _, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                if path.startswith(os.path.join(root, "codex")) or path.startswith(os.path.join(root, "mcp-auth")):
                    continue  # the fake source files hold the import canaries on purpose
                with open(path, "rb") as f:
                    data = f.read()
                for canary in CANARIES:
                    check(canary.encode() not in data, f"no canary in {path}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"tvctl_canary: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
