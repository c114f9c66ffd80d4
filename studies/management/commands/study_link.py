from django.core.management.base import BaseCommand, CommandError

from studies.models import Study


class Command(BaseCommand):
    help = "Print a study's participant link (the random address participants open)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="the site's address, as seen by participants",
        )

    def handle(self, *, slug, base_url, **options):
        study = Study.objects.filter(slug=slug).order_by("-created_at").first()
        if study is None:
            raise CommandError(f"no study {slug!r}")
        self.stdout.write(
            f"Participant link ({study.title}, {study.state}): {study.participant_url(base_url)}"
        )
