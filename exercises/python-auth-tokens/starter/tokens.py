import base64
import json

LEEWAY = 30  # seconds of clock skew accepted on "exp" and "nbf"


def verify(token, secret, now):
    """Check a signed session token; see README.md for the rules."""
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # TODO: check the signature: HMAC-SHA256 of the payload segment with `secret`
    # TODO: "malformed" tokens, the leeway, and "nbf"
    if now >= claims["exp"]:
        return {"ok": False, "reason": "expired"}
    return {"ok": True, "user": claims["sub"]}
