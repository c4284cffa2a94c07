"""Read-through caching and invalidation, over a minimal in-memory key-value store."""

from redis.exceptions import ConnectionError as RedisConnectionError

from app.cache import ResponseCache


class FakeKeyValue:
    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, int] = {}

    def get(self, name: str) -> bytes | None:
        return self.values.get(name)

    def set(self, name: str, value: bytes | str, ex: int | None = None) -> bool:
        self.values[name] = value.encode() if isinstance(value, str) else value
        if ex is not None:
            self.ttls[name] = ex
        return True


class DownKeyValue:
    def get(self, name: str) -> bytes | None:
        raise RedisConnectionError("down")

    def set(self, name: str, value: bytes | str, ex: int | None = None) -> bool:
        raise RedisConnectionError("down")


class Source:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f'{{"n": {self.calls}}}'.encode()


def test_miss_then_hit_with_the_ttl() -> None:
    store = FakeKeyValue()
    cache = ResponseCache(store, ttl_seconds=42, prefix="shop")
    source = Source()
    assert cache.fetch("products", "item:1", source) == (b'{"n": 1}', False)
    assert cache.fetch("products", "item:1", source) == (b'{"n": 1}', True)
    assert source.calls == 1
    assert store.ttls == {"shop:cache:products:v0:item:1": 42}


def test_a_write_invalidates_every_entry_of_that_entity_only() -> None:
    store = FakeKeyValue()
    cache = ResponseCache(store, ttl_seconds=42, prefix="shop")
    products, orders = Source(), Source()
    cache.fetch("products", "list:20:0", products)
    cache.fetch("products", "item:1", products)
    cache.fetch("orders", "item:1", orders)

    cache.invalidate("products")
    cache.invalidate("products")  # each write gets a version of its own

    assert cache.fetch("products", "list:20:0", products) == (b'{"n": 3}', False)
    assert cache.fetch("products", "item:1", products) == (b'{"n": 4}', False)
    assert cache.fetch("orders", "item:1", orders) == (b'{"n": 1}', True)
    versions = {v for k, v in store.values.items() if k.startswith("shop:cache-version:")}
    assert len(versions) == 1


def test_versions_never_repeat() -> None:
    store = FakeKeyValue()
    cache = ResponseCache(store, ttl_seconds=42, prefix="shop")
    seen = set()
    for _ in range(50):
        cache.invalidate("products")
        seen.add(store.values["shop:cache-version:products"])
    assert len(seen) == 50


def test_variants_are_cached_separately() -> None:
    cache = ResponseCache(FakeKeyValue(), ttl_seconds=42, prefix="shop")
    source = Source()
    cache.fetch("products", "list:20:0", source)
    assert cache.fetch("products", "list:20:20", source) == (b'{"n": 2}', False)


def test_redis_down_means_uncached_answers_not_errors() -> None:
    cache = ResponseCache(DownKeyValue(), ttl_seconds=42, prefix="shop")
    source = Source()
    assert cache.fetch("products", "item:1", source) == (b'{"n": 1}', False)
    assert cache.fetch("products", "item:1", source) == (b'{"n": 2}', False)
    cache.invalidate("products")  # logged, not raised


class FlakyKeyValue(FakeKeyValue):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def get(self, name: str) -> bytes | None:
        if self.down:
            raise RedisConnectionError("down")
        return super().get(name)

    def set(self, name: str, value: bytes | str, ex: int | None = None) -> bool:
        if self.down:
            raise RedisConnectionError("down")
        return super().set(name, value, ex)


def test_a_write_during_an_outage_invalidates_when_redis_is_back() -> None:
    store = FlakyKeyValue()
    cache = ResponseCache(store, ttl_seconds=42, prefix="shop")
    source = Source()
    cache.fetch("products", "item:1", source)  # cached before the outage: {"n": 1}
    store.down = True
    cache.invalidate("products")  # the write's invalidation fails: remembered
    assert cache.fetch("products", "item:1", source) == (b'{"n": 2}', False)
    store.down = False
    # Back: the stale entry from before the outage is never served.
    assert cache.fetch("products", "item:1", source) == (b'{"n": 3}', False)
    assert cache.fetch("products", "item:1", source) == (b'{"n": 3}', True)
