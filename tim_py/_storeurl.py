"""A world on PostgreSQL: the libpq URI that tim_py takes wherever it takes a data directory.

``TIM(app, "postgresql://user:password@host:port/db")`` puts the world in that database (the
library's ``timref_config_store_url`` key); anything else is a directory.  A URI is shown only
through :func:`redact`, which replaces its password (in the user part and in a ``password=``
parameter) with ``***``; :func:`scrub` takes a password out of any text, such as an error's desc.
"""
from __future__ import annotations

import re
from typing import List
from urllib.parse import unquote

#: the prefixes libpq takes for a connection URI
SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "***"
_PARAM_PASSWORD = re.compile(r"([?&]password=)([^&]*)", re.IGNORECASE)


def is_store_url(where: object) -> bool:
    """Whether ``where`` (a data_dir argument) names a PostgreSQL world rather than a directory."""
    return isinstance(where, str) and where[:13].lower().startswith(SCHEMES)


def _passwords(url: str) -> List[str]:
    """The password(s) ``url`` carries, as written and percent-decoded."""
    found: List[str] = []
    rest = url.split("://", 1)[1] if "://" in url else url
    # libpq: the user part ends at the first '@' met before any '/'
    end = len(rest)
    for i, c in enumerate(rest):
        if c in "@/":
            end = i
            break
    if end < len(rest) and rest[end] == "@" and ":" in rest[:end]:
        found.append(rest[:end].split(":", 1)[1])
    found += [m.group(2) for m in _PARAM_PASSWORD.finditer(url)]
    out: List[str] = []
    for p in found:
        for v in (p, unquote(p)):
            if v and v not in out:
                out.append(v)
    return sorted(out, key=len, reverse=True)


def redact(url: str) -> str:
    """``url`` with its password shown as ``***``: what a repr, log line or message may show."""
    if not is_store_url(url):
        return url
    scheme, rest = url.split("://", 1)
    end = len(rest)
    for i, c in enumerate(rest):
        if c in "@/":
            end = i
            break
    if end < len(rest) and rest[end] == "@" and ":" in rest[:end]:
        rest = rest[:end].split(":", 1)[0] + ":" + HIDDEN + rest[end:]
    return _PARAM_PASSWORD.sub(lambda m: m.group(1) + HIDDEN, f"{scheme}://{rest}")


def scrub(text: str, url: str) -> str:
    """``text`` with every password of ``url`` in it replaced by ``***``."""
    if not is_store_url(url):
        return text
    for p in _passwords(url):
        text = text.replace(p, HIDDEN)
    return text
