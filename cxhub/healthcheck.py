"""The web container's health check: GET /healthz from the local gunicorn, exit 0 on 200.

    python -m cxhub.healthcheck [URL]        (default http://127.0.0.1:8000/healthz)

docker-compose.yml runs it in the web container. The request carries a Host header
that ALLOWED_HOSTS accepts (its first entry, a leading-dot entry without its dot,
"localhost" for "*"): Django refuses any other host with a 400, so a check that asked
for 127.0.0.1 failed as soon as ALLOWED_HOSTS named only the real domain. It reads
the environment only, without setting Django up, so it stays cheap every 10 seconds.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def host_header(allowed_hosts: str) -> str:
    """A host name that ALLOWED_HOSTS (comma-separated, as settings reads it) accepts."""
    for entry in (part.strip() for part in allowed_hosts.split(",")):
        if not entry:
            continue
        if entry == "*":
            return "localhost"
        return entry.lstrip(".")
    return "localhost"


def check(url: str = DEFAULT_URL, *, timeout: float = 3.0) -> bool:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"health check: {url} is not an http(s) URL")
    host = host_header(os.environ.get("ALLOWED_HOSTS", ""))
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 (checked above)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError) as error:
        print(f"health check: {url} as {host}: {error}", file=sys.stderr)
        return False


if __name__ == "__main__":
    sys.exit(0 if check(*sys.argv[1:2]) else 1)
