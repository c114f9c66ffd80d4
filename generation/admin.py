from django.contrib import admin

from generation.models import Dataset, Job, Piece


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "kind", "style", "imported_at")
    search_fields = ("name", "title")


@admin.register(Piece)
class PieceAdmin(admin.ModelAdmin):
    list_display = ("title", "dataset", "estimated_key", "time_signature", "n_notes", "split")
    list_filter = ("dataset", "split")
    search_fields = ("title", "identifier")
    exclude = ("quantized",)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "status", "created_at", "finished_at")
    list_filter = ("kind", "status")
