"""Secrets out of the answer text that we quote in errors.

Some servers echo what they were sent: an identity server its posted form (``client_secret=...``),
a debugging proxy the request's headers, a document store the URL it could not serve. Error
messages reach the connection test in the UI and the CLI, where the log masker does not help, so
every known secret is cut from quoted text here, in the forms an echo could take it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote

REDACTED = "***"
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def secret_forms(secret: str) -> set[str]:
    """The secret as sent, and as URL, form, JSON or percent-decoding would show it."""
    forms = {secret, unquote(secret), quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {json.dumps(form)[1:-1] for form in set(forms)}
    forms |= {_PERCENT.sub(lambda m: m.group().lower(), form) for form in set(forms)}
    return {form for form in forms if form}


def redacted(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret replaced by ``***``, longest forms first."""
    forms = {form for secret in secrets if secret for form in secret_forms(secret)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text
