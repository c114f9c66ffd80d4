"""The job worker: django-tasks-db's db_worker plus a heartbeat and orphan recovery.

    python manage.py run_worker                    # every queue
    python manage.py run_worker --queue training   # a GPU machine: training runs only
    python manage.py run_worker --queue default    # the rest: imports, renders, studies

Run one or more anywhere that reaches the database; a job held by a worker that was killed
is started again by any other worker (or by this one after a restart), a training run from
its last resume point.
"""

from django.conf import settings
from django.core.management.base import CommandError
from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand

from generation.jobs import workers


class Command(DBWorkerCommand):
    help = "Run background jobs, recovering those of workers that died."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--queue",
            dest="queue_name",
            help="the queues to take jobs from, comma-separated: training (training runs) "
            "and default (everything else); default: both",
        )
        # host-pid-random instead of 32 random letters: the job pages can say where it ran.
        # Every queue by default: one worker runs a whole site, as before queues existed.
        parser.set_defaults(worker_id=None, reload=False, queue_name="*")

    def handle(self, *args, worker_id: str | None, **options):
        known = settings.TASKS["default"].get("QUEUES", ["default"])
        asked = [name.strip() for name in (options["queue_name"] or "*").split(",")]
        unknown = [name for name in asked if name != "*" and name not in known]
        if unknown:
            raise CommandError(
                f"no queue {', '.join(map(repr, unknown))}; the queues are {', '.join(known)}"
            )
        worker_id = worker_id or workers.new_worker_id()
        workers.beat(worker_id)
        for job in workers.recover_orphans():
            self.stdout.write(f"recovered job {job.pk} ({job.status}): {job.title}")
        heart = workers.Heart(worker_id)
        heart.start()
        try:
            super().handle(*args, worker_id=worker_id, **{**options, "reload": False})
        finally:
            heart.stopped.set()
            workers.forget(worker_id)
