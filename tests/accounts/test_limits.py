"""The log-in limiter on its own, on a fake clock: one address guessing one login is
refused for a while; failures spread over addresses or logins only slow tries down, so
the owner's right password always gets in; memory stays bounded."""

from __future__ import annotations

import pytest

from accounts.limits import FailureLimiter, LoginLimits, Verdict, address_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(limiter: FailureLimiter, login: str, address: str, times: int = 1) -> list[Verdict]:
    """`times` tries that all turn out wrong (the limiter counts them as failed unless
    told they succeeded)."""
    return [limiter.attempt(login, address) for _ in range(times)]


def test_one_address_guessing_one_login_is_refused_and_drains() -> None:
    clock = Clock()
    limiter = FailureLimiter(LoginLimits(pair_failures=10, window=900), clock=clock)
    verdicts = fail(limiter, "anna", "203.0.113.9", 10)
    assert all(v.retry_after == 0 for v in verdicts)
    refused = limiter.attempt("anna", "203.0.113.9")
    # one failure drains every 900/10 s: the next try goes through then
    assert (refused.retry_after, refused.because) == (pytest.approx(90.0), "pair")
    clock.now += 60
    assert limiter.attempt("anna", "203.0.113.9").retry_after == pytest.approx(30.0)
    clock.now += 30
    assert limiter.attempt("anna", "203.0.113.9").retry_after == 0  # counted: full again
    assert limiter.attempt("anna", "203.0.113.9").retry_after == pytest.approx(90.0)
    # the same login from elsewhere, and another login from there, are not refused
    assert limiter.attempt("anna", "198.51.100.4").retry_after == 0
    assert limiter.attempt("boris", "203.0.113.9").retry_after == 0


def test_a_burst_of_tries_at_once_cannot_pass_the_limit() -> None:
    # tries are counted when let through, before their password is checked
    limiter = FailureLimiter(LoginLimits(pair_failures=10), clock=Clock())
    verdicts = fail(limiter, "anna", "203.0.113.9", 50)
    assert sum(v.retry_after == 0 for v in verdicts) == 10


def test_a_right_password_forgets_the_pairs_failures() -> None:
    limiter = FailureLimiter(LoginLimits(pair_failures=10), clock=Clock())
    fail(limiter, "anna", "203.0.113.9", 9)  # the owner mistyping
    assert limiter.attempt("anna", "203.0.113.9").retry_after == 0
    limiter.succeeded("anna", "203.0.113.9")
    assert all(v.retry_after == 0 for v in fail(limiter, "anna", "203.0.113.9", 10))


def test_failures_from_many_addresses_slow_the_login_down_and_never_lock_it() -> None:
    clock = Clock()
    limits = LoginLimits(login_free=10, first_delay=0.25, max_delay=5.0, window=900)
    limiter = FailureLimiter(limits, clock=clock)
    delays = [limiter.attempt("anna", f"203.0.113.{n}").delay for n in range(17)]
    assert delays == [0.0] * 10 + [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    # the owner, from home: not refused, answered after the same delay as a guess
    owner = limiter.attempt("anna", "198.51.100.4")
    assert (owner.retry_after, owner.delay, owner.because) == (0, 5.0, "login")
    limiter.succeeded("anna", "198.51.100.4")
    # another login is not slowed
    assert limiter.attempt("boris", "198.51.100.4") == Verdict()
    # an attack's slowing wears off: its 17 failures drain at 10 a window
    clock.now += 450
    assert limiter.attempt("anna", "198.51.100.4").delay == pytest.approx(1.0)  # 12 left
    clock.now += 450
    assert limiter.attempt("anna", "198.51.100.4").delay == 0


def test_one_address_trying_many_logins_is_slowed_not_refused() -> None:
    limits = LoginLimits(address_free=50, first_delay=0.25, max_delay=5.0)
    limiter = FailureLimiter(limits, clock=Clock())
    for n in range(50):  # one password on each of 50 logins
        assert limiter.attempt(f"pupil{n}", "203.0.113.9") == Verdict()
    # a teacher behind the same school address, who never failed, gets in, slowed
    teacher = limiter.attempt("teacher", "203.0.113.9")
    assert (teacher.retry_after, teacher.delay, teacher.because) == (0, 0.25, "address")
    # from another address nobody is slowed
    assert limiter.attempt("teacher", "198.51.100.4") == Verdict()


def test_memory_is_bounded_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    limits = LoginLimits(pair_failures=1, max_entries=100, window=900)
    limiter = FailureLimiter(limits, clock=clock)
    for n in range(1000):
        limiter.attempt(f"user{n}", f"10.0.{n // 250}.{n % 250}")
    assert limiter.sizes() == (100, 100, 100)
    # the least recently failed were dropped first
    assert limiter.attempt("user999", "10.0.3.249").retry_after > 0  # remembered
    assert limiter.attempt("user0", "10.0.0.0").retry_after == 0  # forgotten
    clock.now += 2 * 900  # every count has drained
    limiter.attempt("anna", "203.0.113.9")
    assert limiter.sizes() == (1, 1, 1)


def test_an_ipv6_client_is_counted_by_its_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("203.0.113.9") == "203.0.113.9"
    limiter = FailureLimiter(LoginLimits(pair_failures=3), clock=Clock())
    for host in range(3):  # hopping around one /64 does not escape the limit
        limiter.attempt("anna", address_key(f"2001:db8:1:2::{host + 1}"))
    assert limiter.attempt("anna", address_key("2001:db8:1:2::ffff")).retry_after > 0
