"""One-time keys: used once, never stored, gone on use or expiry."""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError

from keys import services

KEY = "sk-ant-api03-ONETIMEcanary0123456789abcdefgh"


def test_take_returns_the_key_once(db):
    ref = services.one_time_key_stash(api_key=KEY, provider="anthropic")
    assert KEY not in ref and "ONETIME" not in ref
    assert services.one_time_key_take(ref=ref) == KEY
    assert services.one_time_key_take(ref=ref) is None


def test_bad_format_is_refused_before_anything_is_held(db):
    with pytest.raises(ValidationError) as excinfo:
        services.one_time_key_stash(api_key="sk-nope", provider="anthropic")
    assert "api_key" in excinfo.value.message_dict


def test_expired_key_is_gone(db, settings):
    if settings.REDIS_URL:
        import redis

        ref = services.one_time_key_stash(api_key=KEY, provider="anthropic", ttl_seconds=60)
        handle = services._unb64u(ref.split(".")[1]).hex()
        client = redis.Redis.from_url(settings.REDIS_URL)
        (name,) = client.scan_iter(match=f"*{services._OT_CACHE_PREFIX}{handle}")
        client.pexpire(name, 1)  # let Redis itself expire it, without waiting a minute
        while client.exists(name):
            pass
        assert services.one_time_key_take(ref=ref) is None
        return
    with time_machine.travel(0, tick=False) as traveller:
        ref = services.one_time_key_stash(api_key=KEY, provider="anthropic", ttl_seconds=60)
        traveller.shift(61)
        assert services.one_time_key_take(ref=ref) is None


@pytest.mark.parametrize(
    "mangle",
    [
        # the right handle with another key
        lambda ref: ref.rsplit(".", 1)[0] + "." + services._b64u(b"\x07" * 32),
        lambda ref: "ot1.garbage",
        lambda ref: "",
        lambda ref: ref.replace("ot1.", "ot2."),
    ],
)
def test_a_forged_or_altered_ref_yields_nothing(db, mangle):
    ref = services.one_time_key_stash(api_key=KEY, provider="anthropic")
    assert services.one_time_key_take(ref=mangle(ref)) is None


def test_concurrent_takers_get_it_exactly_once(db):
    ref = services.one_time_key_stash(api_key=KEY, provider="anthropic")
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def take():
        barrier.wait()
        results.append(services.one_time_key_take(ref=ref))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(KEY) == 1
    assert results.count(None) == 7


def test_the_cache_alone_holds_only_ciphertext(db):
    ref = services.one_time_key_stash(api_key=KEY, provider="anthropic")
    handle = services._unb64u(ref.split(".")[1]).hex()
    blob = cache.get(services._OT_CACHE_PREFIX + handle)
    assert isinstance(blob, bytes) and KEY.encode() not in blob


def test_redis_holds_only_ciphertext_with_ttl(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    ref = services.one_time_key_stash(api_key=KEY, provider="anthropic", ttl_seconds=120)
    handle = services._unb64u(ref.split(".")[1]).hex()
    names = [name for name in client.scan_iter(match=f"*{services._OT_CACHE_PREFIX}{handle}")]
    assert len(names) == 1
    assert 0 < client.ttl(names[0]) <= 120
    assert KEY.encode() not in client.get(names[0])
    assert services.one_time_key_take(ref=ref) == KEY
    assert client.exists(names[0]) == 0


def test_generate_form_can_send_a_browser_encrypted_one_time_key(db, master_keys):
    from keys.transport import transport_encrypt_for_tests, transport_public_jwk

    sealed = transport_encrypt_for_tests(KEY, transport_public_jwk())
    ref = services.one_time_key_stash(api_key=sealed, provider="anthropic")
    assert services.one_time_key_take(ref=ref) == KEY
