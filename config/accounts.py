"""The experimenters' own login, logout and password pages (Django's auth views, the site's
look). Failed logins are counted by django-axes, which locks an account and an address."""

import functools

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

# Every experimenter page: staff only, and a visitor who is not logged in goes to the site's
# login page (staff_member_required alone sends them to the admin's).
experimenter_required = functools.partial(staff_member_required, login_url="login")


class LoginView(auth_views.LoginView):
    # A logged-in account that is not staff would be sent back here by every experimenter
    # page: redirect_authenticated_user would make that a loop, so the form shows again.
    template_name = "accounts/login.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["failure_limit"] = settings.AXES_FAILURE_LIMIT
        context["lockout_minutes"] = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        return context


def admin_login(request):
    """The admin's login page would be a second door with its own look: visitors go to the
    site's. The admin is for superusers (it knows no study ownership); an experimenter who
    is logged in but not one is told so instead of being sent round in a loop."""
    if request.user.is_superuser:
        return redirect("admin:index")
    if request.user.is_authenticated:
        return render(request, "accounts/admin_refused.html", status=403)
    return RedirectView.as_view(pattern_name="login", query_string=True)(request)


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("admin/login/", admin_login),
]
