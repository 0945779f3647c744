#!/usr/bin/env python3
"""tests/oauth/test_browser.py URL: a "browser" for tvctl login --browser-command in the OAuth tests.

Hands URL to the test server's browser (POST $TOKENVAULT_OAUTH_RS/control/browse), which logs in on the
authorization server's pages over HTTP and delivers the redirect to the waiting loopback listener.
"""
import json
import os
import sys
import urllib.request

request = urllib.request.Request(
    os.environ["TOKENVAULT_OAUTH_RS"] + "/control/browse",
    data=json.dumps({"url": sys.argv[1]}).encode(),
    headers={"content-type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, timeout=10) as response:
    sys.exit(0 if response.status == 202 else 1)
