from django.urls import path

from generation import views

app_name = "generation"

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/import/", views.import_corpus, name="import-corpus"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset"),
    path("datasets/<slug:name>/visibility/", views.dataset_visibility, name="dataset-visibility"),
    path("datasets/<slug:name>/pieces/<int:pk>/", views.piece_detail, name="piece"),
    path("datasets/<slug:name>/pieces/<int:pk>/render/", views.render_piece, name="render-piece"),
    path("models/", views.models_home, name="models"),
    path("models/train/", views.train_new, name="train"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>.json", views.run_status, name="run-status"),
    path("runs/<int:pk>/curve.svg", views.run_curve, name="run-curve"),
    path("checkpoints/<int:pk>/", views.checkpoint_detail, name="checkpoint"),
    path("checkpoints/<int:pk>/evaluate/", views.checkpoint_evaluate, name="checkpoint-evaluate"),
    path("checkpoints/<int:pk>/generate/", views.checkpoint_generate, name="checkpoint-generate"),
    path("checkpoints/<int:pk>/continue/", views.checkpoint_continue, name="checkpoint-continue"),
    path("checkpoints/<int:pk>/weights.pt", views.checkpoint_weights, name="checkpoint-weights"),
    path("samples/upload/", views.samples_upload, name="samples-upload"),
    path("samples/<slug:name>/", views.sample_set_detail, name="sample-set"),
    path("samples/<slug:name>/render/", views.sample_set_render, name="sample-set-render"),
    path("samples/<slug:name>/<int:index>/", views.sample_detail, name="sample"),
    path("samples/<slug:name>/<int:index>.mid", views.sample_midi, name="sample-midi"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>.json", views.job_status, name="job-status"),
]
