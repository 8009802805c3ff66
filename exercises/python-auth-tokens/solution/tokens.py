import base64
import binascii
import hashlib
import hmac
import json
import re

LEEWAY = 30  # seconds of clock skew accepted on "exp" and "nbf"

SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _fail(reason):
    return {"ok": False, "reason": reason}


def _is_int(value):
    return type(value) is int  # not bool, not float


def _claims(segment):
    """The payload's claims as a dict, or None when they cannot be read."""
    if len(segment) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def verify(token, secret, now):
    """Check a signed session token; see README.md for the rules."""
    if not isinstance(token, str):
        return _fail("malformed")
    parts = token.split(".")
    if len(parts) != 2 or not all(SEGMENT.fullmatch(part) for part in parts):
        return _fail("malformed")
    payload, signature = parts

    mac = hmac.new(secret.encode("utf-8"), payload.encode("ascii"), hashlib.sha256)
    # compare_digest takes as long whatever the first differing character is.
    if not hmac.compare_digest(signature, _b64url(mac.digest())):
        return _fail("bad_signature")

    claims = _claims(payload)
    if claims is None:
        return _fail("malformed")
    sub, exp, nbf = claims.get("sub"), claims.get("exp"), claims.get("nbf", 0)
    if not (isinstance(sub, str) and sub and _is_int(exp) and _is_int(nbf)):
        return _fail("malformed")

    if now >= exp + LEEWAY:
        return _fail("expired")
    if now < nbf - LEEWAY:
        return _fail("not_yet_valid")
    return {"ok": True, "user": sub}
