"""Credentials in URLs and headers: what counts as one, how it is hidden, where it may travel.

Guard URLs may carry ``user:pass@`` or a token in the query string; the request needs them,
reports, logs and the audit trail must not show them (``redact_url``, ``redact_text``). Load
headers that carry secrets must not cross the network in clear text (``cleartext_headers``).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from chaos.model.abort import LOCAL_HOSTS

MASK = "***"
# a query parameter or header whose lower-cased name contains one of these carries a secret;
# hiding one that does not is harmless, showing one that does is not
SECRET_WORDS = ("token", "key", "secret", "password", "passwd", "pwd", "sig", "auth",
                "credential", "session", "cookie")
_MIN_SCRUB = 3  # shorter secrets are not searched for in free text (they would mask at random)


def is_secret_name(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in SECRET_WORDS)


def _secret_param(name: str) -> bool:
    return is_secret_name(name) or is_secret_name(unquote_plus(name))


def _mask_query(text: str) -> str:
    """``a=1&token=x`` -> ``a=1&token=***``, keeping the order and spelling of every part."""
    parts = []
    for piece in text.split("&"):
        name, eq, _value = piece.partition("=")
        parts.append(f"{name}={MASK}" if eq and _secret_param(name) else piece)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` with its user info and secret query (or fragment) values replaced by ``***``:
    the form every report, log line and error shows. Not a URL at all: returned as it is."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = MASK + "@" + netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, _mask_query(parts.query),
                           _mask_query(parts.fragment)))
    except ValueError:
        return url


def url_secrets(url: str) -> list[str]:
    """The secret strings ``url`` holds (user, password, secret parameter values), raw and as
    they appear percent-encoded, longest first."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: set[str] = set()
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        found |= {userinfo, *userinfo.split(":", 1)}
    for text in (parts.query, parts.fragment):
        for piece in text.split("&"):
            name, eq, value = piece.partition("=")
            if eq and _secret_param(name):
                found.add(value)
    found |= {unquote_plus(s) for s in found}
    return sorted((s for s in found if len(s) >= _MIN_SCRUB), key=len, reverse=True)


def redact_text(text: str, urls: Iterable[str]) -> str:
    """``text`` (an error, a detail line) with every one of ``urls`` shown redacted and any
    secret of theirs that appears on its own (a library's error quoting part of the URL)
    masked."""
    urls = [u for u in urls if u]
    for url in sorted(urls, key=len, reverse=True):
        text = text.replace(url, redact_url(url))
    for url in urls:
        for secret in url_secrets(url):
            text = text.replace(secret, MASK)
    return text


def is_local(url: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in LOCAL_HOSTS


def cleartext_headers(base_url: str, names: Iterable[str], *, all_secret: bool = False
                      ) -> list[str]:
    """The header names of ``names`` that would travel in clear text (plain http) to another
    machine than this one: every one when ``all_secret`` (headersFromEnv: values kept out of
    files because they are secret), else those named like a credential (Authorization, Cookie,
    *token*, *key* ...). https, and http to 127.0.0.1/localhost/::1, send none in clear."""
    try:
        scheme = urlsplit(base_url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme == "https" or is_local(base_url):
        return []
    return [n for n in names if all_secret or is_secret_name(n)]
