from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "Studies: stimuli, participants, answers"

    def ready(self) -> None:
        from generation.jobs.running import JobKind, register_job_kind
        from studies import selectors
        from studies.models import Study

        def may_see_build(user, job) -> bool:
            study = Study.objects.filter(build_job=job).first()
            return study is None or selectors.can_see(user, study)

        # A build replaces the study's clips, so it can be done again; its job is as private
        # as the study.
        register_job_kind(JobKind("build-study", retryable=True, may_see=may_see_build))
