from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("studies/power.json", views.power, name="power"),
    path("studies/<slug:slug>/report/", views.report, name="report"),
    path("studies/<slug:slug>/report.<str:fmt>", views.download, name="download"),
]
