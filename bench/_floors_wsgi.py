"""The factory's WSGI application with the floors of bench/_floors.py mounted (the app bench/_server.py serves with waitress)."""
from django.conf import settings

from factory_site.wsgi import application  # noqa: F401  (sets Django up)

settings.ROOT_URLCONF = "_floors"
