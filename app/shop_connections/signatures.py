"""The platforms' webhook signatures: WooCommerce (`X-WC-Webhook-Signature`) and Shopify
(`X-Shopify-Hmac-Sha256`) both send the base64 HMAC-SHA256 of the raw body with the shared
secret; it is checked on the bytes received, before anything is parsed."""

import base64
import hashlib
import hmac


def signature_of(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def is_signed(secret: str, body: bytes, signature: str | None) -> bool:
    # compare_digest: the time taken says nothing about how much of a forgery was right.
    return signature is not None and hmac.compare_digest(
        signature_of(secret, body).encode(), signature.strip().encode()
    )
