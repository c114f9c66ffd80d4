import json

from django.core.management.base import BaseCommand, CommandError

from studies import preflight
from studies.models import Study

MARKS = {preflight.OK: "ok  ", preflight.WARN: "WARN", preflight.FAIL: "FAIL"}


class Command(BaseCommand):
    help = (
        "Check this machine's deployment, and a study if named, before a launch. "
        "Exits with status 1 when a check fails (or warns, with --strict)."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", nargs="?", help="a study's slug")
        parser.add_argument("--json", action="store_true", help="print the findings as JSON")
        parser.add_argument("--strict", action="store_true", help="warnings fail too")

    def handle(self, *args, study: str | None, json: bool, strict: bool, **options):
        found = None
        if study:
            found = Study.objects.filter(slug=study).first()
            if found is None:
                raise CommandError(f"no study {study!r}")
        checked = preflight.preflight(found)
        if json:
            self.stdout.write(_as_json(checked.findings))
        else:
            for finding in checked.findings:
                self.stdout.write(f"{MARKS[finding.level]}  {finding.topic:<11} {finding.message}")
        if checked.failed or (strict and checked.warned):
            raise CommandError(
                f"{checked.failed} check(s) failed, {checked.warned} warned: not ready for a launch"
            )
        if not json:
            self.stdout.write(f"ready ({checked.warned} warning(s))")


def _as_json(findings) -> str:
    return json.dumps([finding.to_dict() for finding in findings], indent=2)
