"""Secrets in text: a database URL carries its password (postgresql://user:password@host/db),
and a driver's error message may quote it. Feedback's stores and the server's logs mask them
with `redact` before anything is written."""

import re

_SECRETS = re.compile(
    r"(?P<url>[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)[^\s/'\"]*(?=@)"  # scheme://user:password@
    r"|(?P<pair>\b(?:password|passwd|pwd|token|secret|api[_-]?key)\s*[=:]\s*['\"]?)"
    r"[^\s'\"&;,]+"  # password=..., token: ...
    r"|(?P<bearer>\bBearer\s+)[^\s'\",;]+",  # an Authorization header's token
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str) -> str:
    """`text` with every password and token it holds replaced by ***.

    Catches a URL's password (postgresql://nv:***@db/feedback), key=value pairs such as
    libpq's password=... or token=..., and a Bearer token.
    """
    return _SECRETS.sub(lambda m: (m["url"] or m["pair"] or m["bearer"]) + MASK, text)
