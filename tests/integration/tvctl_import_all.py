#!/usr/bin/env python3
"""tvctl import --all on a home that holds the MCP logins of Claude Code, Codex (file and Secret Service),
opencode and mcp-remote (launched from Claude Desktop's configuration).

Run inside tests/integration/run_with_keyring.sh (a private Secret Service). The token files follow what the
clients' own login code wrote (tests/fixtures/clients/), with one server URL per client. Checks: without
--yes and without a terminal nothing is imported and the preview lists every login (no secret); --yes
imports each login once; a second run imports nothing and says so; every source file and keyring item is
byte-identical afterwards; sources that hold nothing say why; a missing source never reports success.

usage: tvctl_import_all.py TVCTL
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

TVCTL = sys.argv[1]
CANARY = "CANARY-import-all-7f3a"
failures = []


def check(condition, what, detail=""):
    if not condition:
        failures.append(f"{what}: {detail}")
        print(f"FAIL: {what} {detail}", file=sys.stderr)


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def snapshot(root):
    out = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            with open(path, "rb") as f:
                out[path] = (hashlib.sha256(f.read()).hexdigest(), st.st_mode, st.st_mtime_ns, st.st_ctime_ns)
    return out


def keyring_items():
    """secret-tool's view of the Codex items, minus its "schema =" line: gnome-keyring-daemon reports the
    item type as xdg:schema once it has reloaded its keyring file from disk, which it does on its own
    schedule after any write to the collection (seen with secret-tool alone), so that line is not the item's."""
    found = subprocess.run(["secret-tool", "search", "--all", "service", "Codex MCP Credentials"],
                           capture_output=True, text=True)
    lines = (found.stdout + found.stderr).splitlines()
    return "\n".join(line for line in lines if not line.startswith("schema = "))


def main():
    with tempfile.TemporaryDirectory() as root:
        home = os.path.join(root, "home")
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_DATA_HOME=os.path.join(home, ".local", "share"))
        for name in ("CODEX_HOME", "MCP_REMOTE_CONFIG_DIR", "CLAUDE_CONFIG_DIR", "CLAUDE_SECURESTORAGE_CONFIG_DIR"):
            env.pop(name, None)
        store = ["--dir", os.path.join(root, "store"), "--keyring", "desktop"]

        def tvctl(*args, expect=0, stdin=subprocess.DEVNULL):
            done = subprocess.run([TVCTL, *args, *store], env=env, stdin=stdin, capture_output=True, text=True,
                                  timeout=120)
            check(done.returncode == expect, f"tvctl {' '.join(args)} exits {expect}",
                  f"got {done.returncode}: {done.stdout[-800:]} {done.stderr[-800:]}")
            check(CANARY not in done.stdout + done.stderr, f"tvctl {' '.join(args)} prints no secret")
            return done.stdout, done.stderr

        # Nothing anywhere: every source says why, exit 8, never a silent success.
        out, _ = tvctl("import", "--all", "--yes", "--json", expect=8)
        doc = json.loads(out)
        reasons = {s["source"]: s.get("nothing_because", "") for s in doc["sources"]}
        check(doc["ok"] is False and doc["imported"] == [], "nothing to import is not ok:true", out)
        check("no file at" in reasons.get("claude_code", ""), "claude_code says: no file", reasons)
        check("no file at" in reasons.get("codex", ""), "codex says: no file", reasons)
        check("no Codex items" in reasons.get("codex_keyring", ""), "codex_keyring says: no items", reasons)
        check("no directory at" in reasons.get("mcp_remote", ""), "mcp_remote says: no directory", reasons)
        out, err = tvctl("import", "codex", expect=8)
        check("no file at" in out and "keyring" in out, "import codex without a file says where it looked", out)
        tvctl("import", "codex", "--codex-home", os.path.join(root, "nonexistent"), expect=2)

        # Claude Code 2.1.332's file.
        write(os.path.join(home, ".claude", ".credentials.json"), json.dumps({"mcpOAuth": {"claude|089c68f51447b06b": {
            "serverName": "claude", "serverUrl": "https://claude.example.com/mcp", "accessToken": CANARY + "-claude-at",
            "discoveryState": {"authorizationServerUrl": "https://as.example.com", "oauthMetadataFound": True},
            "clientId": "claude-client", "issuer": "https://as.example.com", "redirectUri": "http://localhost:61051/callback",
            "refreshToken": CANARY + "-claude-rt", "expiresAt": 4102444800000, "scope": "mcp.read mcp.write"}}}))
        # Codex 0.171.0's file store, and its keyring item.
        write(os.path.join(home, ".codex", ".credentials.json"), json.dumps({"codexfile|089c68f51447b06b": {
            "server_name": "codexfile", "server_url": "https://codex-file.example.com/mcp", "issuer": "https://as.example.com",
            "client_id": "codex-client", "access_token": CANARY + "-codex-at", "expires_at": 4102444800000,
            "refresh_token": CANARY + "-codex-rt", "scopes": ["mcp.read"]}}, separators=(",", ":")))
        item = json.dumps({"server_name": "codexring", "url": "https://codex-keyring.example.com/mcp",
                           "issuer": "https://as.example.com", "client_id": "ring-client",
                           "token_response": {"access_token": CANARY + "-ring-at", "token_type": "bearer",
                                              "expires_in": 3600, "refresh_token": CANARY + "-ring-rt",
                                              "scope": "mcp.read"}, "expires_at": 4102444800000},
                          separators=(",", ":"))
        stored = subprocess.run(["secret-tool", "store", "--label=codexring|0123456789abcdef@Codex MCP Credentials:default",
                                 "application", "rust-keyring", "service", "Codex MCP Credentials", "target", "default",
                                 "username", "codexring|0123456789abcdef"], input=item, text=True, capture_output=True)
        check(stored.returncode == 0, "secret-tool stores the Codex item", stored.stderr)
        # opencode 1.18.33's file.
        write(os.path.join(home, ".local", "share", "opencode", "mcp-auth.json"), json.dumps({"oc": {
            "tokens": {"accessToken": CANARY + "-oc-at", "refreshToken": CANARY + "-oc-rt", "expiresAt": 4102444800.5,
                       "scope": "mcp.read"},
            "clientInfo": {"clientId": "oc-client", "clientIdIssuedAt": 1795966019},
            "serverUrl": "https://opencode.example.com/mcp"}}, indent=2))
        # mcp-remote 0.15.1's files, for a server launched from Claude Desktop's configuration.
        remote = "https://remote.example.com/mcp"
        write(os.path.join(home, ".config", "Claude", "claude_desktop_config.json"), json.dumps({"mcpServers": {
            "remote": {"command": "npx", "args": ["-y", "mcp-remote", remote, "--header", "X-Team:blue"]}}}))
        digest = hashlib.md5((remote + '|{"X-Team":"blue"}').encode()).hexdigest()
        write(os.path.join(home, ".mcp-auth", "mcp-remote-v1", digest + "_tokens.json"), json.dumps({
            "access_token": CANARY + "-remote-at", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": CANARY + "-remote-rt", "scope": "mcp.read", "expires_at": 4102444800000}, indent=2))
        write(os.path.join(home, ".mcp-auth", "mcp-remote-v1", digest + "_client_info.json"),
              json.dumps({"client_id": "remote-client", "redirect_uris": ["http://localhost:1/oauth/callback"]}))

        files_before, items_before = snapshot(home), keyring_items()
        urls = ["https://claude.example.com/mcp", "https://codex-file.example.com/mcp",
                "https://codex-keyring.example.com/mcp", "https://opencode.example.com/mcp", remote]

        # No terminal, no --yes: a preview, no import.
        out, err = tvctl("import", "--all", "--json", expect=2)
        doc = json.loads(out)
        check(doc["dry_run"] is True and sorted(r["resource"] for r in doc["would_import"]) == sorted(urls),
              "the preview lists every login once", out)
        check(all("expires_at" in r and "id" in r and "source" in r for r in doc["would_import"]),
              "the preview shows id, expiry and source", out)
        check("--yes" in err, "the refusal names --yes", err)
        tvctl("list", expect=4)  # nothing was stored

        out, _ = tvctl("import", "--all", "--yes")
        check("imported 5 login(s)" in out, "--yes imports each login once", out)
        out, _ = tvctl("list", "--json")
        check(sorted(c["resource"] for c in json.loads(out)["credentials"]) == sorted(urls), "the store holds them", out)

        out, _ = tvctl("import", "--all", "--yes", expect=8)
        check("nothing to import" in out and "nothing new" in out, "a second run imports nothing and says so", out)

        check(snapshot(home) == files_before, "every source file is byte-identical afterwards")
        items_after = keyring_items()
        changed = set(items_before.splitlines()) ^ set(items_after.splitlines())
        check(items_after == items_before, "the keyring items are unchanged",
              repr(sorted(line for line in changed if not line.startswith("secret = "))))

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("tvctl import --all: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
