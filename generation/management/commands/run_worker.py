"""The job worker: django-tasks-db's db_worker plus a heartbeat and orphan recovery.

    python manage.py run_worker

Run one or more anywhere that reaches the database; a job held by a worker that was killed
is started again by any other worker (or by this one after a restart).
"""

from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand

from generation.jobs import workers


class Command(DBWorkerCommand):
    help = "Run background jobs, recovering those of workers that died."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        # host-pid-random instead of 32 random letters: the job pages can say where it ran.
        parser.set_defaults(worker_id=None, reload=False)

    def handle(self, *args, worker_id: str | None, **options):
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
