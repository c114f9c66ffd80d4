from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("compare/", views.compare, name="compare"),
    path("compare.<str:fmt>", views.compare_download, name="compare-download"),
    path("studies/power.json", views.power, name="power"),
    path("studies/<slug:slug>/report/", views.report, name="report"),
    path("studies/<slug:slug>/sequential/", views.sequential_panel, name="sequential"),
    path("studies/<slug:slug>/report.<str:fmt>", views.download, name="download"),
]
