#!/usr/bin/env python3
"""Signs users in through askgate's dev login and prints one session token a line.

  login.py BASE_URL EMAIL_PATTERN COUNT     e.g. login.py http://127.0.0.1:18080 bench-user-{}@bench.invalid 10000

One kept-alive connection; `{}` in the pattern becomes 1..COUNT.
"""
import http.client
import json
import sys
from urllib.parse import urlsplit


def main(base, pattern, count):
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    for i in range(1, count + 1):
        body = json.dumps({"email": pattern.format(i)})
        conn.request("POST", "/api/auth/dev-login", body, {"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            sys.exit(f"dev login of {pattern.format(i)} answered {response.status}: {data[:200]!r}")
        print(json.loads(data)["session_token"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
