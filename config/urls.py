from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import accounts
from config.media import serve_media
from config.security import healthz

urlpatterns = [
    *accounts.urlpatterns,
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path(settings.MEDIA_URL.strip("/") + "/<path:path>", serve_media, name="media"),
    path("", include("metrics.urls")),
    path("", include("studies.urls")),
    path("", include("generation.urls")),
]
