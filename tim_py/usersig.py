"""UserSig (version 2) generation, with the standard library only (docs/contract.md 3.7).

A UserSig is the text of a JSON object, zlib-compressed and base64-encoded
with ``+``, ``/``, ``=`` replaced by ``*``, ``-``, ``_``.  The object's
``TLS.sig`` is the standard base64 of HMAC-SHA256 (keyed with the app's secret
key) over::

    TLS.identifier:<id>\\nTLS.sdkappid:<appid>\\nTLS.time:<time>\\nTLS.expire:<expire>\\n
    [TLS.userbuf:<userbuf>\\n]
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import zlib
from typing import Optional, Union

__all__ = ["gen_user_sig", "DEFAULT_EXPIRE"]

DEFAULT_EXPIRE = 86400 * 180

_URLSAFE = bytes.maketrans(b"+/=", b"*-_")


def _check_uint(name: str, value: object, bits: int = 64) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must be between 0 and {(1 << bits) - 1}, got {value}")
    return value


def gen_user_sig(
    sdk_app_id: int,
    key: Union[str, bytes],
    user_id: str,
    expire: int = DEFAULT_EXPIRE,
    *,
    userbuf: Optional[Union[str, bytes]] = None,
    now: Optional[int] = None,
) -> str:
    """Make a UserSig for ``user_id`` of app ``sdk_app_id``, valid ``expire`` seconds from ``now``.

    ``key`` is the app's secret key.  ``userbuf``, when given, is carried in
    ``TLS.userbuf`` and signed: a ``str`` as it is, ``bytes`` base64-encoded
    (as the vendor's generators do).  ``now`` defaults to the current time.
    """
    _check_uint("sdk_app_id", sdk_app_id)
    _check_uint("expire", expire, 63)
    if now is None:
        now = int(time.time())
    _check_uint("now", now, 63)
    if isinstance(key, str):
        key_bytes = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray)):
        key_bytes = bytes(key)
    else:
        raise TypeError(f"key must be str or bytes, got {type(key).__name__}")
    if not isinstance(user_id, str):
        raise TypeError(f"user_id must be a str, got {type(user_id).__name__}")
    if "\x00" in user_id:
        raise ValueError("user_id must not contain NUL characters")
    if userbuf is not None:
        if isinstance(userbuf, (bytes, bytearray)):
            userbuf = base64.b64encode(bytes(userbuf)).decode("ascii")
        elif not isinstance(userbuf, str):
            raise TypeError(f"userbuf must be str or bytes, got {type(userbuf).__name__}")
        if "\x00" in userbuf:
            raise ValueError("userbuf must not contain NUL characters")

    content = (
        f"TLS.identifier:{user_id}\n"
        f"TLS.sdkappid:{sdk_app_id}\n"
        f"TLS.time:{now}\n"
        f"TLS.expire:{expire}\n"
    )
    if userbuf is not None:
        content += f"TLS.userbuf:{userbuf}\n"
    mac = hmac.new(key_bytes, content.encode("utf-8"), hashlib.sha256).digest()

    doc = {
        "TLS.ver": "2.0",
        "TLS.identifier": user_id,
        "TLS.sdkappid": sdk_app_id,
        "TLS.time": now,
        "TLS.expire": expire,
    }
    if userbuf is not None:
        doc["TLS.userbuf"] = userbuf
    doc["TLS.sig"] = base64.b64encode(mac).decode("ascii")
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(text)).translate(_URLSAFE).decode("ascii")
