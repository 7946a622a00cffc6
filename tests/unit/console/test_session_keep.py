"""Keeping a session through the provider, without I/O: when an access token is renewed, how long a kept
session lasts (the shift, or the refresh token if it lapses first), and the hidden cookie keeping it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from common.auth import Identity, Principal
from console.settings import ConsoleSettings
from console.signin import RENEW_AHEAD_S, OidcSignIn, Seal, SignedIn, renewal_due

T0 = 1_800_000_000.0


def test_a_token_is_renewed_in_its_last_minute_to_the_second() -> None:
    got, expires = T0, T0 + 300
    assert RENEW_AHEAD_S == 60
    assert not renewal_due(expires, got, expires - 60.001)
    assert renewal_due(expires, got, expires - 60)
    assert renewal_due(expires, got, expires + 5)  # and after it expired


def test_a_short_lived_token_is_renewed_in_its_last_fifth() -> None:
    got, expires = T0, T0 + 100  # a fifth is 20 s, less than the minute
    assert not renewal_due(expires, got, expires - 20.001)
    assert renewal_due(expires, got, expires - 20)
    got, expires = T0, T0 + 300  # a fifth is 60 s: the minute, either way
    assert renewal_due(expires, got, expires - 60) and not renewal_due(expires, got, expires - 60.5)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _signin(clock: Clock, hours: float = 12) -> OidcSignIn:
    settings = ConsoleSettings(environment="test", oidc_issuer="https://idp.station/realms/s", oidc_audience="fq",
                               oidc_jwks_url="https://idp.station/realms/s/certs", session_hours=hours,
                               session_secret=SecretStr("s" * 32))
    return OidcSignIn(settings, Identity(settings), Seal("s" * 32, now=clock), client=None, now=clock)  # type: ignore[arg-type]


def _signed(clock: Clock, refresh: str = "rt-0123456789", refresh_lapses_in: float = float("inf"),
            lives: float = 300) -> SignedIn:
    return SignedIn("access-token", Principal(token_hint="jwt", roles=frozenset({"duty_desk"}), subject="user-P1"),
                    "张警官", "P1", clock.now + lives, refresh, clock.now + refresh_lapses_in)


def test_a_kept_session_lasts_the_shift_and_hides_its_refresh_token() -> None:
    clock = Clock()
    signin = _signin(clock, hours=12)
    kept = signin.keep(_signed(clock), since=clock.now)
    assert kept is not None and kept.access_token == "access-token" and kept.until == T0 + 12 * 3600
    assert "rt-0123456789" not in kept.refresh_cookie and "user-P1" not in kept.refresh_cookie
    assert signin.due(kept.refresh_cookie) is None  # a fresh token
    clock.now = T0 + 240 - 0.001
    assert signin.due(kept.refresh_cookie) is None
    clock.now = T0 + 240
    due = signin.due(kept.refresh_cookie)
    assert due is not None and (due["rt"], due["sub"], due["since"], due["at_exp"]) == (
        "rt-0123456789", "user-P1", T0, T0 + 300)


def test_a_renewal_late_in_the_shift_ends_with_it() -> None:
    clock = Clock()
    signin = _signin(clock, hours=8)
    since = T0 - 8 * 3600 + 100  # signed in almost a shift ago
    kept = signin.keep(_signed(clock, lives=120), since=since)
    assert kept is not None and kept.until == since + 8 * 3600 == T0 + 100
    clock.now = T0 + 99
    assert signin.due(kept.refresh_cookie) is not None  # in the token's last fifth (24 s)
    clock.now = T0 + 100
    assert signin.due(kept.refresh_cookie) is None  # the cookie ended with the shift
    assert signin.keep(_signed(clock), since=since) is None  # and nothing is kept past it


def test_a_refresh_token_lapsing_before_the_shift_ends_the_session_then() -> None:
    clock = Clock()
    kept = _signin(clock).keep(_signed(clock, refresh_lapses_in=1800), since=T0)
    assert kept is not None and kept.until == T0 + 1800


def test_without_a_refresh_token_nothing_is_kept() -> None:
    clock = Clock()
    assert _signin(clock).keep(_signed(clock, refresh=""), since=T0) is None


@pytest.mark.parametrize("tamper", ["another key", "a changed byte", "empty", "a signed, not hidden, cookie"])
def test_a_hidden_cookie_not_ours_or_changed_is_no_session(tamper: str) -> None:
    clock = Clock()
    seal = Seal("s" * 32, now=clock)
    value = seal.hide({"rt": "x"}, 600)
    if tamper == "another key":
        assert Seal("t" * 32, now=clock).reveal(value) is None
    elif tamper == "a changed byte":
        head, key, iv, text, tag = value.split(".")
        assert seal.reveal(".".join([head, key, iv, ("A" if text[0] != "A" else "B") + text[1:], tag])) is None
    elif tamper == "empty":
        assert seal.reveal("") is None
    else:
        assert seal.reveal(seal.seal({"rt": "x"}, 600)) is None
    assert seal.reveal(value) == {"rt": "x", "exp": int(T0 + 600)}


def test_a_hidden_cookie_expires_to_the_second() -> None:
    clock = Clock()
    seal = Seal("s" * 32, now=clock)
    value = seal.hide({"rt": "x"}, 600)
    clock.now = T0 + 599
    assert seal.reveal(value) is not None
    clock.now = T0 + 600
    assert seal.reveal(value) is None


def test_a_kept_cookie_stays_within_what_a_browser_keeps_and_a_longer_token_is_not_kept() -> None:
    from console.signin import REFRESH_TOKEN_MAX

    clock = Clock()
    signin = _signin(clock)
    longest = signin.keep(_signed(clock, refresh="r" * REFRESH_TOKEN_MAX), since=T0)
    assert longest is not None and len("fq_refresh=" + longest.refresh_cookie) < 4096
    tokens = {"refresh_token": "r" * (REFRESH_TOKEN_MAX + 1), "refresh_expires_in": 1800}
    assert signin._refresh_of(tokens) == ("", float("inf"))  # the session is the access token's, as without one
    assert signin._refresh_of({**tokens, "refresh_token": "r" * REFRESH_TOKEN_MAX}) == ("r" * REFRESH_TOKEN_MAX,
                                                                                         T0 + 1800)
    assert signin._refresh_of({"refresh_token": "rt", "refresh_expires_in": 0}) == ("rt", float("inf"))  # offline
    assert signin._refresh_of({"refresh_token": "rt", "refresh_expires_in": True}) == ("rt", float("inf"))
