from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation: corpora, models, samples"

    def ready(self) -> None:
        from generation import checks  # noqa: F401  (registers system checks)
        from generation.jobs.running import JobKind, register_job_kind

        # Imports and renders write all-or-nothing, sampling finds a finished set and an
        # evaluation is read-only, so a dead worker's job is simply done again. A training
        # run goes on from its last resume point (services.training.train).
        for name in ("import", "render", "generate", "evaluate", "train"):
            register_job_kind(JobKind(name, retryable=True))
