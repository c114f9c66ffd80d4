from django.contrib import admin

from studies.models import Block, Participant, Response, Stimulus, Study, System, Trial


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "state", "created_by", "built_at", "created_at"]
    list_filter = ["state"]
    filter_horizontal = ["collaborators"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["public_id", "study", "stage", "external_pid", "prolific_pid", "started_at"]
    list_filter = ["study", "stage", "is_preview"]
    readonly_fields = [f.name for f in Participant._meta.fields]


admin.site.register([System, Block, Stimulus])


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["participant", "position", "block", "kind"]
    readonly_fields = [f.name for f in Trial._meta.fields]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["trial", "rating", "judged_human", "choice", "style", "answered_at"]
    readonly_fields = [f.name for f in Response._meta.fields]
