"""The Django admin, for superusers only (installed in place of django.contrib.admin)."""

from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import AdminSite


class SuperuserAdminSite(AdminSite):
    """Django's admin shows every study, participant and answer to anyone with a model's view
    permission, whoever owns the study; the site's own pages apply ownership, so the admin
    is left to superusers."""

    def has_permission(self, request):
        return request.user.is_active and request.user.is_superuser


class EarshotAdminConfig(AdminConfig):
    default_site = "config.admin_site.SuperuserAdminSite"
