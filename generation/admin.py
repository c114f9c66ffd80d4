from django.contrib import admin

from generation.models import Dataset, Job, Piece, Rendering, RenderProfile


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "kind", "style", "is_public", "imported_at")
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


@admin.register(RenderProfile)
class RenderProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # Renderings point at their profile: changing it afterwards would make them lie.
        if obj is not None and obj.renderings.exists():
            return ("name", "settings")
        return ()


@admin.register(Rendering)
class RenderingAdmin(admin.ModelAdmin):
    list_display = (
        "source_label",
        "profile",
        "status",
        "duration_seconds",
        "loudness_lufs",
        "created_at",
    )
    list_filter = ("status", "profile")
    search_fields = ("source_label", "cache_key")
    readonly_fields = [f.name for f in Rendering._meta.fields]
