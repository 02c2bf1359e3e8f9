"""Small HTML helpers shared by admin pages."""
import json

from django.utils.html import format_html
from django.utils.safestring import SafeString


def pretty_json(value) -> SafeString | str:
    if value in (None, "", {}):
        return "-"
    return format_html("<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{}</pre>",
                       json.dumps(value, indent=2, ensure_ascii=False))
