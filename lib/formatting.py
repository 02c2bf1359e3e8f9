"""Small HTML helpers shared by admin pages."""
import json
from datetime import datetime

from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Keeps the text's line breaks and indentation, wraps long lines, scrolls past about 30 lines.
PRE_STYLE = "white-space:pre-wrap;overflow-wrap:anywhere;max-height:30em;overflow:auto"


def pretty_json(value: object) -> SafeString | str:
    if value in (None, "", {}):
        return "-"
    return format_html("<pre style='{}'>{}</pre>", PRE_STYLE, json.dumps(value, indent=2, ensure_ascii=False))


def preformatted(text: str | None, *, css_class: str = "") -> SafeString | str:
    """Text shown as written (code, model answers, test output): Django's readonly fields would collapse spaces."""
    if not text:
        return "-"
    return format_html("<pre class='{}' style='{}'>{}</pre>", css_class, PRE_STYLE, text)


def timestamp(value: datetime | None) -> str:
    """Local date and time to the second (the admin's default format stops at the minute)."""
    if value is None:
        return "-"
    return dateformat.format(timezone.localtime(value), "Y-m-d H:i:s")
