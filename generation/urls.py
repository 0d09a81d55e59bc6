from __future__ import annotations

from django.urls import path

from generation import views

app_name = "generation"
urlpatterns = [
    path("generate/", views.generate, name="generate"),
    path("generations/", views.generation_list, name="list"),
    path("generations/<uuid:pk>/", views.generation_detail, name="detail"),
    path("generations/<uuid:pk>/progress/", views.generation_progress, name="progress"),
    path("generations/<uuid:pk>/answers/", views.generation_answer, name="answer"),
    path(
        "generations/<uuid:pk>/save-template/", views.generation_save_template, name="save_template"
    ),
    path("generations/<uuid:pk>/file/", views.generation_file, name="file"),
    path("generations/<uuid:pk>/download/", views.generation_download, name="download"),
]
