"""Polite, robust HTTP GET for cover files (httpx): per-host rate limit, timeouts, retries with
exponential backoff and jitter that honour `Retry-After`, a redirect limit, a body size limit.

`Downloader.get(url)` never raises for a network problem: it returns a `Download` whose status
is `ok`, `not-found` (404 / 410) or `failed` with a short reason, and how many requests it made.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
NOT_FOUND_STATUS = frozenset({404, 410})


@dataclass(frozen=True)
class HttpPolicy:
    """How politely and how persistently to ask (the fetch config fills it in)."""

    user_agent: str
    rate_per_host: float = 5.0  # requests per second to one host
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 4  # extra attempts after the first, on 429 / 5xx / timeouts / connection errors
    backoff_base: float = 1.0  # seconds before the first retry; doubles each time
    backoff_max: float = 60.0
    jitter: float = 0.5  # each wait is stretched by a random factor in [1, 1 + jitter]
    max_retry_after: float = 300.0  # a longer Retry-After is cut to this
    max_redirects: int = 5
    max_bytes: int = 20 * 2**20
    connections: int = 16


@dataclass(frozen=True)
class Download:
    """One URL's outcome: `body` when ok, else `reason`; `url` is the last one requested."""

    status: str
    reason: str = ""
    body: bytes = b""
    url: str = ""
    requests: int = 0


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Fail(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HostRateLimiter:
    """At most `rate` request starts per second to each host, shared by all threads."""

    def __init__(self, rate: float, stop: threading.Event):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.stop = stop
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str) -> bool:
        """Block until `url`'s host may be asked again; False if stopped meanwhile."""
        host = urlsplit(url).netloc
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + self.interval
        if slot > now:
            return not self.stop.wait(slot - now)
        return not self.stop.is_set()


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds named by a `Retry-After` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Downloader:
    """GETs cover files under an `HttpPolicy`; thread-safe; `close()` when done."""

    def __init__(self, policy: HttpPolicy, stop: threading.Event):
        self.policy = policy
        self.stop = stop
        self.limiter = HostRateLimiter(policy.rate_per_host, stop)
        timeout = httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout)
        limits = httpx.Limits(max_connections=policy.connections)
        headers = {"User-Agent": policy.user_agent, "Accept": "image/*"}
        self.client = httpx.Client(timeout=timeout, limits=limits, headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def get(self, url: str) -> Download:
        """Fetch `url` with retries; `ok` with the body, `not-found`, or `failed` with a reason."""
        p, requests = self.policy, [0]
        for attempt in range(p.retries + 1):
            try:
                body, final = self._attempt(url, requests)
                return Download("ok", body=body, url=final, requests=requests[0])
            except _Fail as exc:
                return Download(exc.status, exc.reason, url=url, requests=requests[0])
            except _Retry as exc:
                if attempt == p.retries:
                    return Download("failed", exc.reason, url=url, requests=requests[0])
                delay = min(p.backoff_base * 2**attempt, p.backoff_max)
                delay *= 1 + p.jitter * random.random()
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, p.max_retry_after))
                if self.stop.wait(delay):
                    break
        return Download("failed", "interrupted", url=url, requests=requests[0])

    def _attempt(self, url: str, requests: list[int]) -> tuple[bytes, str]:
        """One try: follow redirects up to the limit, read the body under the size limit."""
        for _ in range(self.policy.max_redirects + 1):
            if not self.limiter.wait(url):
                raise _Fail("failed", "interrupted")
            requests[0] += 1
            try:
                with self.client.stream("GET", url) as resp:
                    location = resp.headers.get("location")
                    if resp.is_redirect and location:
                        url = urljoin(url, location)
                        continue
                    return self._read(resp), url
            except httpx.TimeoutException:
                raise _Retry("timeout") from None
            except httpx.RemoteProtocolError:  # closed before the declared body was sent
                raise _Retry("truncated") from None
            except httpx.TransportError:  # refused, reset
                raise _Retry("connection") from None
        raise _Fail("failed", "too-many-redirects")

    def _read(self, resp: httpx.Response) -> bytes:
        code = resp.status_code
        if code in NOT_FOUND_STATUS:
            raise _Fail("not-found", f"http-{code}")
        if code in RETRY_STATUS:
            raise _Retry(f"http-{code}", retry_after_seconds(resp.headers.get("retry-after")))
        if code != 200:
            raise _Fail("failed", f"http-{code}")
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise _Fail("failed", "too-large")
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > self.policy.max_bytes:
                raise _Fail("failed", "too-large")
            if self.stop.is_set():
                raise _Fail("failed", "interrupted")
            chunks.append(chunk)
        return b"".join(chunks)
