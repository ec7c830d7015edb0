"""A bounded load test on loopback: a fixed number of requests at a fixed concurrency.

:func:`load_test` sends ``requests`` POSTs of one upload to a server on this machine from
``concurrency`` workers (asyncio tasks on one httpx client, in a thread of their own so that
a notebook's running event loop is not in the way), each with a timeout, and stops after
``time_limit`` seconds whatever is left. It reports latency percentiles (p50, p95, p99),
throughput and the count of errors.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from .errors import ServiceError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LoadResult:
    """What one load level measured.

    Attributes:
        concurrency: requests in flight at once.
        requests: requests answered (within the time limit).
        errors: answers that were not 200, or timed out.
        p50_ms, p95_ms, p99_ms: latency percentiles of the answered requests, client side.
        throughput: answered requests per second of wall clock.
        seconds: how long the level took.
    """

    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float
    seconds: float


async def _run(url, files, concurrency, requests, timeout, time_limit):
    import httpx

    latencies, errors, issued = [], 0, 0
    deadline = time.perf_counter() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def worker():
            nonlocal errors, issued
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                start = time.perf_counter()
                try:
                    response = await client.post(url, files=files)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return latencies, errors, seconds


def load_test(
    url: str,
    upload: tuple[str, bytes, str],
    *,
    concurrency: int = 1,
    requests: int = 200,
    warmup: int = 20,
    timeout: float = 5.0,
    time_limit: float = 30.0,
) -> LoadResult:
    """POST ``upload`` to ``url`` ``requests`` times from ``concurrency`` workers; time it.

    Args:
        url: the endpoint, on this machine (``http://127.0.0.1:PORT/v1/predict``).
        upload: ``(file name, bytes, content type)`` of the ``file`` field.
        concurrency: requests in flight at once.
        requests: how many requests to time (after ``warmup`` untimed ones).
        timeout: seconds one request may take before it counts as an error.
        time_limit: seconds after which no new request is sent.

    Raises:
        ServiceError: a URL that is not on the loopback interface, or bad counts.
    """
    if urlparse(url).hostname not in LOOPBACK:
        raise ServiceError(f"{url} is not on this machine: the load test only targets loopback.")
    if concurrency < 1 or requests < 1 or warmup < 0:
        raise ServiceError("concurrency and requests must be at least 1, warmup at least 0.")
    files = {"file": upload}

    def in_thread(count):
        return asyncio.run(_run(url, files, concurrency, count, timeout, time_limit))

    with ThreadPoolExecutor(1) as pool:
        if warmup:
            pool.submit(in_thread, warmup).result()
        latencies, errors, seconds = pool.submit(in_thread, requests).result()
    milliseconds = 1000.0 * np.asarray(latencies or [np.nan])
    p50, p95, p99 = (float(np.percentile(milliseconds, q)) for q in (50, 95, 99))
    answered = len(latencies)
    return LoadResult(
        concurrency, answered, int(errors), p50, p95, p99, answered / seconds, float(seconds)
    )


def load_levels(
    url: str,
    upload: tuple[str, bytes, str],
    concurrencies: tuple[int, ...] = (1, 2, 4, 8),
    *,
    requests: int = 200,
    warmup: int = 20,
    timeout: float = 5.0,
    time_limit: float = 30.0,
) -> list[LoadResult]:
    """Run :func:`load_test` at each concurrency in turn; return one result a level."""
    return [
        load_test(
            url,
            upload,
            concurrency=level,
            requests=requests,
            warmup=warmup,
            timeout=timeout,
            time_limit=time_limit,
        )
        for level in concurrencies
    ]
