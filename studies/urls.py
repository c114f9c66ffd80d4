from django.urls import path

from studies import participant_views, views

app_name = "studies"

urlpatterns = [
    path("studies/", views.study_list, name="list"),
    path("studies/new/", views.study_new, name="new"),
    path("studies/<slug:slug>/", views.study_detail, name="detail"),
    path("studies/<slug:slug>/state/", views.study_state, name="state"),
    path("studies/<slug:slug>/build/", views.study_build, name="build"),
    path("studies/<slug:slug>/collaborators/", views.study_collaborators, name="collaborators"),
    path("studies/<slug:slug>/clone/", views.study_clone, name="clone"),
    path("studies/<slug:slug>/study.toml", views.study_spec, name="spec"),
    path(
        "studies/<slug:slug>/preregistration.json",
        views.study_preregistration,
        name="preregistration",
    ),
    path("studies/<slug:slug>/answers.<str:fmt>", views.answers_export, name="export"),
    path("studies/<slug:slug>/import/", views.answers_import, name="import"),
    # Participants: nothing in these addresses says what a clip is.
    # The study's key is random (Study.access_key): a study's address cannot be guessed.
    path("s/<str:key>/", participant_views.take, name="take"),
    path(
        "s/<str:key>/clip/<str:token>/<int:index>.<str:fmt>",
        participant_views.clip,
        name="clip",
    ),
    path("s/<str:key>/screen/<int:index>.wav", participant_views.screen_tone, name="screen"),
]
