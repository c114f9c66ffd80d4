from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "Studies: stimuli, participants, answers"

    def ready(self) -> None:
        from generation.jobs import guard_jobs
        from studies import selectors
        from studies.models import Study

        def may_see_build(user, job) -> bool:
            study = Study.objects.filter(build_job=job).first()
            return study is None or selectors.can_see(user, study)

        guard_jobs("build-study", may_see_build)
