from django.urls import path

from generation import views

app_name = "generation"

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/import/", views.import_corpus, name="import-corpus"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset"),
    path("datasets/<slug:name>/pieces/<int:pk>/", views.piece_detail, name="piece"),
    path("datasets/<slug:name>/pieces/<int:pk>/render/", views.render_piece, name="render-piece"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>.json", views.job_status, name="job-status"),
]
