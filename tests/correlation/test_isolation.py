"""Each request sees its own correlation: threads, asyncio tasks, nesting."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from meshsec.correlation import (
    CorrelationContext,
    bind,
    current,
    current_id,
    inject,
    peek,
    scope,
)


def test_scope_sets_and_restores() -> None:
    def run() -> None:
        assert peek() is None
        with scope({"X-Correlation-ID": "outer"}) as outer:
            assert current() is outer
            with scope({"X-Correlation-ID": "inner"}):
                assert current_id() == "inner"
            assert current_id() == "outer"
        assert peek() is None

    contextvars.copy_context().run(run)


def test_scope_restores_after_an_exception() -> None:
    def run() -> None:
        with pytest.raises(RuntimeError), scope({"X-Correlation-ID": "boom"}):
            raise RuntimeError
        assert peek() is None

    contextvars.copy_context().run(run)


def test_scope_accepts_a_context_or_nothing() -> None:
    ctx = CorrelationContext(correlation_id="given")
    with scope(ctx) as bound:
        assert bound is ctx
    with scope() as fresh:
        assert fresh.correlation_id != "given"
        assert not fresh.remote


def test_current_outside_a_scope_is_stable() -> None:
    def run() -> tuple[str, str]:
        return current_id(), current_id()

    first, second = contextvars.copy_context().run(run)
    assert first == second


def test_bind_is_token_based() -> None:
    def run() -> None:
        with bind(CorrelationContext(correlation_id="b1")):
            assert current_id() == "b1"
        assert peek() is None

    contextvars.copy_context().run(run)


def test_threads_with_copied_contexts_are_isolated() -> None:
    barrier = threading.Barrier(8)

    def handle(index: int) -> tuple[str, str]:
        with scope({"X-Correlation-ID": f"thread-{index}"}):
            barrier.wait(timeout=10)  # every thread is inside its scope at once
            return current_id(), inject()["X-Correlation-ID"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(contextvars.copy_context().run, handle, i) for i in range(8)]
        results = [f.result(timeout=30) for f in futures]
    assert results == [(f"thread-{i}", f"thread-{i}") for i in range(8)]


def test_a_plain_thread_does_not_inherit_or_leak() -> None:
    seen: list[str] = []

    def worker() -> None:
        seen.append(current_id())

    def run() -> None:
        with scope({"X-Correlation-ID": "parent"}):
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join(timeout=10)
            assert current_id() == "parent"

    contextvars.copy_context().run(run)
    assert seen
    assert seen[0] != "parent"


async def _request(index: int) -> tuple[str, str]:
    async with scope({"X-Correlation-ID": f"task-{index}"}):
        for _ in range(5):
            await asyncio.sleep(0)  # interleave with every other task
        with scope({"X-Correlation-ID": f"task-{index}-inner"}):
            await asyncio.sleep(0)
            assert current_id() == f"task-{index}-inner"
        await asyncio.sleep(0)
        return current_id(), inject()["X-Correlation-ID"]


def test_concurrent_asyncio_tasks_are_isolated() -> None:
    async def main() -> list[tuple[str, str]]:
        with scope({"X-Correlation-ID": "main"}):
            results = await asyncio.gather(*(_request(i) for i in range(50)))
            assert current_id() == "main"
            return list(results)

    results = asyncio.run(main())
    assert results == [(f"task-{i}", f"task-{i}") for i in range(50)]


def test_one_scope_object_shared_by_concurrent_tasks() -> None:
    shared = scope(CorrelationContext(correlation_id="shared"))

    async def use(index: int) -> str:
        async with scope({"X-Correlation-ID": f"own-{index}"}):
            async with shared:
                await asyncio.sleep(0)
                assert current_id() == "shared"
            await asyncio.sleep(0)
            return current_id()

    async def main() -> list[str]:
        return list(await asyncio.gather(*(use(i) for i in range(20))))

    assert asyncio.run(main()) == [f"own-{i}" for i in range(20)]
