"""The response cache: keys cover everything that changes an answer; storage is shared."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from promptsuite.cache import CacheMode, ResponseCache, cache_key, merge_caches
from promptsuite.errors import ConfigError
from promptsuite.models import GenerateRequest, Generation, GenerationParams, Message

IDENTITY = {"provider": "openai", "model": "m", "base_url": "http://a/v1"}


def request(text: str = "hi", **params: object) -> GenerateRequest:
    return GenerateRequest((Message("user", text),), GenerationParams(**params))  # type: ignore[arg-type]


def test_key_is_stable_and_hex() -> None:
    key = cache_key(IDENTITY, request(), 0)
    assert key == cache_key(dict(reversed(list(IDENTITY.items()))), request(), 0)
    assert len(key) == 64 and int(key, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        lambda: cache_key({**IDENTITY, "model": "n"}, request(), 0),
        lambda: cache_key({**IDENTITY, "base_url": "http://b/v1"}, request(), 0),
        lambda: cache_key({**IDENTITY, "provider": "local"}, request(), 0),
        lambda: cache_key(IDENTITY, request("hi!"), 0),
        lambda: cache_key(IDENTITY, request(temperature=0.7), 0),
        lambda: cache_key(IDENTITY, request(max_tokens=5), 0),
        lambda: cache_key(IDENTITY, request(seed=3), 0),
        lambda: cache_key(IDENTITY, request(stop=("\n",)), 0),
        lambda: cache_key(IDENTITY, request(json_schema={"type": "object"}), 0),
        lambda: cache_key(IDENTITY, request(), 1),
        lambda: cache_key(
            IDENTITY, GenerateRequest((Message("system", "hi"),), GenerationParams()), 0
        ),
    ],
)
def test_key_changes_with_every_input(change: object) -> None:
    assert callable(change)
    assert change() != cache_key(IDENTITY, request(), 0)


def test_put_get_roundtrip_marks_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    generation = Generation("out", 3, 4, 0.25, "stop", "m")
    cache.put("k", IDENTITY, generation)
    hit = cache.get("k")
    assert hit is not None and hit.cached
    assert (hit.text, hit.prompt_tokens, hit.completion_tokens, hit.latency_s) == (
        "out",
        3,
        4,
        0.25,
    )
    assert cache.get("other") is None
    assert len(cache) == 1


def _writer(path: str, start: int) -> None:
    cache = ResponseCache(path)
    for i in range(start, start + 200):
        cache.put(f"k{i}", IDENTITY, Generation(f"t{i}"))


def test_several_processes_share_one_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, n * 200)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    cache = ResponseCache(path)
    assert len(cache) == 600
    hit = cache.get("k599")
    assert hit is not None and hit.text == "t599"


def test_cache_mode_parse() -> None:
    assert CacheMode.parse("replay") is CacheMode.REPLAY
    with pytest.raises(ConfigError, match="one of: use, refresh, off, replay"):
        CacheMode.parse("sometimes")


def _open_at_once(path: str, barrier: Any, index: int) -> None:
    barrier.wait()
    cache = ResponseCache(path)
    cache.put(f"k{index}", {"provider": "p"}, Generation(f"text {index}"))
    cache.close()


def test_many_processes_creating_one_cache_at_once_all_succeed(tmp_path: Path) -> None:
    # Switching a new file to WAL takes an exclusive lock that SQLite's busy handler does
    # not wait for; xdist workers opening a fresh cache together used to crash on it.
    context = multiprocessing.get_context("spawn")
    path = str(tmp_path / "fresh.sqlite")
    for round_ in range(8):
        target = f"{path}.{round_}"
        barrier = context.Barrier(6)
        workers = [
            context.Process(target=_open_at_once, args=(target, barrier, i)) for i in range(6)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [w.exitcode for w in workers] == [0] * 6
        cache = ResponseCache(target)
        assert all(cache.get(f"k{i}") is not None for i in range(6))
        cache.close()


def test_merging_caches_keeps_every_answer_and_the_newer_of_two(tmp_path: Path) -> None:
    first, second = ResponseCache(tmp_path / "a.sqlite"), ResponseCache(tmp_path / "b.sqlite")
    first.put("only-a", IDENTITY, Generation("from a"))
    first.put("both", IDENTITY, Generation("older"))
    second.put("only-b", IDENTITY, Generation("from b"))
    second.put("both", IDENTITY, Generation("newer"))
    first.close()
    second.close()
    target = tmp_path / "cassette.sqlite"
    assert merge_caches([tmp_path / "a.sqlite", tmp_path / "b.sqlite"], target) == 3
    # Merging again, in the other order, changes nothing: the newer answer stays.
    assert merge_caches([tmp_path / "b.sqlite", tmp_path / "a.sqlite"], target) == 3
    merged = ResponseCache(target)
    texts = {key: merged.get(key) for key in ("only-a", "only-b", "both")}
    assert {k: g.text for k, g in texts.items() if g} == {
        "only-a": "from a",
        "only-b": "from b",
        "both": "newer",
    }
    merged.close()


def test_a_committed_cassette_is_read_without_leaving_files_beside_it(tmp_path: Path) -> None:
    committed = tmp_path / "committed" / "responses.sqlite"
    cache = ResponseCache(committed)
    cache.put("k", IDENTITY, Generation("recorded"))
    cache.close()
    before = sorted(p.name for p in committed.parent.iterdir())
    assert before == ["responses.sqlite"]  # the last close folds the log into the file
    assert merge_caches([committed], tmp_path / "shard.sqlite") == 1
    assert sorted(p.name for p in committed.parent.iterdir()) == before


def test_merging_what_is_not_a_cache_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.sqlite: no such cache file"):
        merge_caches([tmp_path / "missing.sqlite"], tmp_path / "out.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database")
    with pytest.raises(ConfigError, match=r"junk\.sqlite: not a promptsuite response cache"):
        merge_caches([junk], tmp_path / "out.sqlite")
