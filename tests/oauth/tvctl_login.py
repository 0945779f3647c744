#!/usr/bin/env python3
"""tests/oauth/tvctl_login.py TVCTL: `tvctl login <url>` against the real OAuth test server.

Runs inside tests/oauth/run_with_oauth_server.sh. Checks: the login stores the credential (tvctl list
shows it, with a refresh token), the server saw one registration and one code exchange, a second login
reuses the registration, no output holds a secret (the pre-registered client's secret, passed through the
environment, never appears), bad input fails with the usage exit code.
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

tvctl = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
rs = os.environ["TOKENVAULT_OAUTH_RS"]
resource = rs + "/mcp"
failures = []


def control(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(rs + path, data=data, headers={"content-type": "application/json"},
                                     method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run(*args, env=None):
    proc = subprocess.run([tvctl, *args], capture_output=True, text=True, timeout=120, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what)


control("/control/reset", {})
with tempfile.TemporaryDirectory() as store:
    browser = ["--browser-command", os.path.join(here, "test_browser.py")]
    code, out, err = run("--dir", store, "login", resource, *browser, "--json")
    check(code == 0, f"tvctl login exits 0 (got {code}: {err})")
    doc = json.loads(out) if out.strip() else {}
    check(doc.get("ok") is True and doc.get("resource") == resource, f"login --json reports the resource: {out}")
    check(doc.get("has_refresh_token") is True, "the login stored a refresh token")
    check("http://" in err and "/auth?" in err, "the login URL is shown on stderr")

    code, out, err = run("--dir", store, "list", "--json")
    check(code == 0, f"tvctl list exits 0 ({err})")
    check(resource in out, f"tvctl list shows {resource}: {out}")

    counts = control("/control/counts")
    check(counts.get("registration") == 1, f"one dynamic registration: {counts}")
    check(counts.get("grant_authorization_code") == 1, f"one code exchange: {counts}")

    code, out, err = run("--dir", store, "login", resource, *browser)
    check(code == 0, f"a second login exits 0 ({err})")
    check(control("/control/counts").get("registration") == 1, "the second login reuses the registration")
    check("logged in to " + resource in out, f"text output names the server: {out}")

with tempfile.TemporaryDirectory() as store:
    secret = "pre-basic-secret-CANARYb7"
    env = dict(os.environ, TVCTL_TEST_SECRET=secret)
    code, out, err = run("--dir", store, "login", resource, "--client-id", "pre-basic",
                         "--client-secret-env", "TVCTL_TEST_SECRET", *browser, env=env)
    check(code == 0, f"login with a pre-registered client exits 0 ({err})")
    check(secret not in out and secret not in err, "the client secret never appears in the output")
    code, out, err = run("--dir", store, "show", resource, env=env)
    check(secret not in out and secret not in err, "tvctl show never prints the client secret")

code, out, err = run("login", "not a url")
check(code == 2, f"a bad URL is a usage error (got {code})")

print("tvctl login:", "ok" if not failures else f"{len(failures)} failed")
sys.exit(1 if failures else 0)
