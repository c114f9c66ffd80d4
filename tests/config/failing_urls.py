"""The site's addresses plus one that fails, for the error-logging test."""

from django.urls import include, path


def boom(request):
    raise RuntimeError("a deliberate failure")


urlpatterns = [path("boom/", boom), path("", include("config.urls"))]
