from django.urls import re_path

from memory import api

urlpatterns = [
    re_path(r"^memory/?$", api.MemoryListApi.as_view(), name="api-memory"),
    re_path(r"^memory/search/?$", api.MemorySearchApi.as_view(), name="api-memory-search"),
    re_path(r"^memory/(?P<item_id>[^/]+)/?$", api.MemoryDetailApi.as_view(), name="api-memory-detail"),
]
