#!/usr/bin/env python3
"""A registration flood against a running server, as an attacker sends it.

    bench/registration-flood.py PID BASE_URL [CLIENTS] [SECONDS]

CLIENTS threads (64) each register new users in a loop for SECONDS (20), every one from
an address of its own (X-Forwarded-For: start the server with TRUSTED_PROXIES=127.0.0.1, so
that the limit per address does not stop them), while one visitor reads /index. Prints the
server's peak memory (VmHWM of PID), the answers by status, and the visitor's latency
before and during the flood.
"""

import http.client
import re
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlencode, urlparse

pid, base = sys.argv[1], urlparse(sys.argv[2])
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 64
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def memory(field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return -1


def connection():
    return http.client.HTTPConnection(base.hostname, base.port, timeout=120)


def flood(number, statuses, stop):
    conn, n = connection(), 0
    while not stop.is_set():
        # A new address for every registration, as a botnet (or one IPv6 client per /64)
        # has them: the limit per address never stops it, only the hashing pool does.
        address = f"10.{number}.{(n // 250) % 250}.{n % 250 + 1}"
        headers = {"X-Forwarded-For": address}
        try:
            conn.request("GET", "/register", headers=headers)
            page = conn.getresponse()
            body = page.read().decode()
            cookie = page.getheader("Set-Cookie", "").split(";")[0]
            token = TOKEN.search(body).group(1)
            name = f"flood{number}x{n}"
            form = urlencode({"csrf_token": token, "username": name,
                              "email": f"{name}@example.com",
                              "password": "pw", "password2": "pw"})
            conn.request("POST", "/register", body=form, headers={
                **headers, "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded"})
            answer = conn.getresponse()
            answer.read()
            statuses[answer.status] += 1
        except (OSError, http.client.HTTPException, AttributeError):
            statuses["no answer"] += 1
            conn = connection()
        n += 1


def visitor_latencies(until):
    conn, took = connection(), []
    while time.monotonic() < until:
        started = time.monotonic()
        conn.request("GET", "/index")
        conn.getresponse().read()
        took.append((time.monotonic() - started) * 1000)
        time.sleep(0.05)
    took.sort()
    return took


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


before = visitor_latencies(time.monotonic() + 3)
statuses, stop = Counter(), threading.Event()
threads = [threading.Thread(target=flood, args=(n, statuses, stop)) for n in range(clients)]
for thread in threads:
    thread.start()
during = visitor_latencies(time.monotonic() + seconds)
stop.set()
for thread in threads:
    thread.join()
print(f"clients: {clients}, {seconds:.0f} s")
print(f"peak memory (VmHWM): {memory('VmHWM')} MiB")
print("answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)))
print(f"visitor /index p50 {percentile(before, .5):.1f} ms, p99 {percentile(before, .99):.1f} ms before; "
      f"p50 {percentile(during, .5):.1f} ms, p99 {percentile(during, .99):.1f} ms during")
