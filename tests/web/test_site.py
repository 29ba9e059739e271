"""Where parta is opened (web/site.py): host names, origins, links' base."""

from __future__ import annotations

import pytest

from web.site import BadUrl, Site, host_name, origin_of


def test_origins_are_normalised() -> None:
    assert origin_of("https://Parta.School.Example/path?x") == "https://parta.school.example"
    assert origin_of("http://127.0.0.1:80/") == "http://127.0.0.1"
    assert origin_of("http://[::1]:8080") == "http://[::1]:8080"
    for bad in ("ftp://x", "parta.school.example", "http://", "http://x:99999"):
        with pytest.raises(BadUrl):
            origin_of(bad)


def test_host_names_lose_their_port() -> None:
    assert host_name("Parta.School.Example:8443") == "parta.school.example"
    assert host_name("[::1]:8080") == "::1"
    assert host_name("::1") == "::1"


def test_the_loopback_default_answers_loopback_names_only() -> None:
    site = Site.of(None)
    assert site.answers("127.0.0.1:8080") and site.answers("localhost:9000")
    assert site.answers("[::1]:8080")
    assert not site.answers("evil.example") and not site.answers("evil.example:8080")
    assert site.base("http", "localhost:8080") == "http://localhost:8080"


def test_a_public_url_is_the_base_of_every_link() -> None:
    site = Site.of("https://parta.school.example/", ("https://lb.school.example",))
    assert site.answers("parta.school.example") and site.answers("lb.school.example:443")
    assert site.answers("127.0.0.1:8080")  # the operator's own checks (Prometheus, curl)
    assert not site.answers("blog.school.example")
    assert site.base("http", "127.0.0.1:8080") == "https://parta.school.example"


@pytest.mark.parametrize(
    ("origin", "fetch_site", "allowed"),
    [
        (None, None, True),  # no browser: curl, an encoder, the tests' own clients
        ("https://parta.school.example", "same-origin", True),
        ("https://lb.school.example", None, True),  # an --allowed-origin
        ("http://127.0.0.1:8080", None, True),  # the very origin the request went to
        ("https://blog.school.example", "same-site", False),  # a sibling host name
        ("https://parta.school.example:8443", None, False),  # another port
        ("http://127.0.0.1:9999", None, False),
        ("null", None, False),  # a sandboxed frame, a data: page
        ("https://evil.example", "cross-site", False),
        (None, "same-site", False),  # Origin stripped, the fetch metadata still says
        ("not a url", None, False),
    ],
)
def test_which_pages_may_act(origin: str | None, fetch_site: str | None, allowed: bool) -> None:
    site = Site.of("https://parta.school.example", ("https://lb.school.example",))
    assert site.may_act(origin, fetch_site, "http", "127.0.0.1:8080") is allowed
