"""Red team: log injection through the formatter, and context isolation."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import propagate

from meshsec.correlation import (
    CorrelationFilter,
    JsonFormatter,
    current,
    current_id,
    extract,
    inject,
    peek,
    scope,
)
from tests.correlation.conftest import TRACEPARENT

HOSTILE = '/x\r\n{"level":"CRITICAL"}\x1b[2J\x1b]0;owned\x07\x9b31m\x00\u2028end'


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("tests.redteam.correlation")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log, stream
    log.removeHandler(handler)


def one_entry(stream: io.StringIO) -> dict[str, object]:
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert text.isascii()
    assert "\r" not in text
    entry = json.loads(text)
    assert isinstance(entry, dict)
    return entry


def test_log_injection_through_format_args_is_one_clean_line(json_log):
    log, stream = json_log
    with scope({"X-Correlation-ID": "req-1"}):
        log.warning("path=%s user=%r", HOSTILE, HOSTILE)
    entry = one_entry(stream)
    message = str(entry["message"])
    assert "\x1b" not in message
    assert "\x9b" not in message
    assert entry["correlation_id"] == "req-1"


def test_log_injection_through_exception_text_and_stack_is_one_clean_line(json_log):
    log, stream = json_log
    try:
        raise ValueError(HOSTILE)  # noqa: TRY301  the traceback text is the subject
    except ValueError:
        log.exception("failed %s", HOSTILE, stack_info=True)
    entry = one_entry(stream)
    for field in ("message", "exception", "stack"):
        assert "\x1b" not in str(entry[field])
    assert "ValueError" in str(entry["exception"])


def test_hostile_correlation_id_never_reaches_a_plain_log_format():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(logging.Formatter("%(correlation_id)s %(trace_id)s %(message)s"))
    log = logging.getLogger("tests.redteam.plain")
    log.addHandler(handler)
    log.propagate = False
    try:
        with scope({"X-Correlation-ID": "a\r\nINJECTED", "traceparent": "00-\r\nX"}):
            log.warning("hello")
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    assert "INJECTED" not in line
    assert line.count("\n") == 1


def test_a_peer_sending_dash_as_its_id_is_not_logged_as_no_correlation(json_log):
    log, stream = json_log
    with scope({"X-Correlation-ID": "-"}):
        log.info("x")
    assert one_entry(stream)["correlation_id"] == "-"


def test_outside_any_scope_ids_are_null_and_nothing_is_bound(json_log):
    log, stream = json_log
    log.info("x")
    entry = one_entry(stream)
    assert entry["correlation_id"] is None
    assert peek() is None


def test_extra_fields_cannot_forge_json_keys(json_log):
    log, stream = json_log
    log.info("x", extra={"correlation_id": 'a","level":"CRITICAL'})
    entry = one_entry(stream)
    assert entry["level"] == "INFO"


# --- isolation ----------------------------------------------------------------


def test_nested_scopes_unwind_correctly_through_exceptions():
    def innermost() -> None:
        with scope({"X-Correlation-ID": "innermost"}):
            raise KeyError("x")

    def inner() -> None:
        with scope({"X-Correlation-ID": "inner"}):
            with pytest.raises(KeyError):
                innermost()
            assert current_id() == "inner"
            raise RuntimeError("y")

    with scope({"X-Correlation-ID": "outer"}):
        with pytest.raises(RuntimeError):
            inner()
        assert current_id() == "outer"
    assert peek() is None


def test_generator_suspended_inside_a_scope_does_not_leak_it():
    def gen() -> Iterator[str]:
        with scope({"X-Correlation-ID": "in-generator"}):
            yield current_id()
            yield current_id()

    run = contextvars.copy_context().run
    iterator = gen()
    assert run(next, iterator) == "in-generator"
    assert peek() is None  # the caller's context never saw the generator's scope


def test_many_threads_racing_each_see_only_their_own_request():
    errors: list[str] = []
    barrier = threading.Barrier(16)

    def request(i: int) -> None:
        with scope({"X-Correlation-ID": f"req-{i}", "baggage": f"n={i}"}):
            barrier.wait()
            for _ in range(200):
                out = inject({})
                if out["X-Correlation-ID"] != f"req-{i}" or out["baggage"] != f"n={i}":
                    errors.append(f"{i}: {out}")

    threads = [threading.Thread(target=request, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_thread_pool_workers_do_not_carry_a_request_into_the_next_one():
    def request(i: int) -> tuple[str, str | None]:
        with scope({"X-Correlation-ID": f"req-{i}"}):
            seen = current_id()
        after = peek()
        return seen, None if after is None else after.correlation_id

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(request, range(20)))
    assert results == [(f"req-{i}", None) for i in range(20)]


def test_asyncio_tasks_with_awaits_inside_scopes_stay_isolated():
    async def request(i: int) -> list[str]:
        seen = []
        async with scope({"X-Correlation-ID": f"req-{i}", "traceparent": TRACEPARENT}):
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append(current().correlation_id)
        return seen

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(request(i) for i in range(50)))

    for i, seen in enumerate(asyncio.run(main())):
        assert seen == [f"req-{i}"] * 5


def test_the_global_textmap_is_never_replaced(monkeypatch: pytest.MonkeyPatch):
    def refuse(_: object) -> None:
        raise AssertionError("meshsec called set_global_textmap")

    monkeypatch.setattr(propagate, "set_global_textmap", refuse)
    before = propagate.get_global_textmap()
    ctx = extract({"traceparent": TRACEPARENT, "baggage": "a=1"})
    with scope(ctx):
        inject(destination="https://x.example/")
    assert propagate.get_global_textmap() is before


def test_a_generator_closed_inside_another_scope_does_not_unbind_that_scope():
    def gen() -> Iterator[str]:
        with scope({"X-Correlation-ID": "in-generator"}):
            yield current_id()

    iterator = gen()
    assert contextvars.copy_context().run(next, iterator) == "in-generator"
    with scope({"X-Correlation-ID": "outer"}):
        iterator.close()  # exits the generator's scope here, in the wrong context
        assert current_id() == "outer"
    assert peek() is None


def test_one_scope_object_nested_in_itself_unwinds_in_order():
    shared = scope({"X-Correlation-ID": "same"})
    with shared, scope({"X-Correlation-ID": "mid"}), shared:
        assert current_id() == "same"
    assert peek() is None


@pytest.mark.parametrize("c1", [chr(c) for c in range(0x80, 0xA0)])
def test_eight_bit_c1_controls_never_reach_the_decoded_message(json_log, c1: str):
    log, stream = json_log
    log.warning("a%sb]0;title%sc", c1, c1)
    entry = one_entry(stream)
    assert c1 not in str(entry["message"])
    assert "\x1b" not in str(entry["message"])
