"""Is this webhook really from Twilio? ``X-Twilio-Signature`` checked with the official
``twilio`` package's ``RequestValidator`` and the tenant's auth token.

Twilio signs the full URL it requested plus the POST parameters (sorted by name, each name
followed by its value), HMAC-SHA1 with the account's auth token, base64. The URL is the one
configured in Twilio's console, so behind a reverse proxy or load balancer it is NOT the
URL this app sees. Rebuild it with ``public_request_url`` from a configured public base URL
(the ``public_base_url`` setting) and the request's own path and query. The pitfalls:

- Scheme: TLS usually ends at the proxy, so the app sees ``http://`` while Twilio signed
  ``https://``. Do not trust ``X-Forwarded-Proto`` / ``Host`` for this: they are whatever
  the caller sent unless a proxy you control overwrites them. Take scheme and host from
  configuration.
- Port: Twilio's own signing is inconsistent about default ports, so ``RequestValidator``
  tries the URL with the default port added and with any port removed. A non-default
  public port (``https://support.example.com:8443``) must be in the configured base URL.
- Query string: part of the signed URL, byte for byte as Twilio sent it (Twilio adds none
  of its own, but a webhook URL configured with ``?tenant=...`` keeps it). Append the raw
  query exactly as received; re-encoding or re-ordering it breaks the signature.
- Path prefix: a proxy that mounts the API under ``/api`` and strips it passes ``/v1/...``
  to the app; the prefix belongs in the base URL (``https://example.com/api``).
- Body: the signature covers the decoded form fields, so validate against the fields as
  parsed from the raw body (``form_fields``), not a re-serialised copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

SIGNATURE_HEADER = "X-Twilio-Signature"


class BadForm(ValueError):
    """A webhook body that is not a form Twilio would send (the request is refused)."""


def valid_twilio_request(
    auth_token: str, url: str, form: Mapping[str, str], signature: str | None
) -> bool:
    """True if ``signature`` is Twilio's signature of ``url`` + ``form`` under ``auth_token``.

    A missing or empty signature, or an empty auth token (a tenant without SMS configured:
    an empty key would let anyone sign), is never valid.
    """
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    return bool(validator.validate(url, dict(form), signature))


def public_request_url(public_base_url: str, path: str, query: str = "") -> str:
    """The URL Twilio requested: the configured public base + the path the app routed on
    (without any prefix the proxy stripped) + the raw query string, unchanged."""
    base = public_base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("public base URL must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("public base URL must not carry a query string or fragment")
    if not path.startswith("/"):
        path = "/" + path
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def form_fields(body: bytes) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body, as Twilio signs them.

    Parsed here rather than by the web framework (FastAPI's ``Form`` needs python-multipart,
    which this project does not install). Twilio sends each field once (media come as
    MediaUrl0, MediaUrl1, ...); a repeated name or undecodable bytes is not a Twilio request.
    """
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm("form body is not valid UTF-8 url-encoding") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadForm("form field repeated")
        fields[name] = value
    return fields
