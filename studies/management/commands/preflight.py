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
        findings = preflight.preflight(found)
        if json:
            self.stdout.write(_as_json(findings))
        else:
            for finding in findings:
                self.stdout.write(f"{MARKS[finding.level]}  {finding.topic:<11} {finding.message}")
        failed = [f for f in findings if f.level == preflight.FAIL]
        warned = [f for f in findings if f.level == preflight.WARN]
        if failed or (strict and warned):
            raise CommandError(
                f"{len(failed)} check(s) failed, {len(warned)} warned: not ready for a launch"
            )
        if not json:
            self.stdout.write(f"ready ({len(warned)} warning(s))")


def _as_json(findings) -> str:
    return json.dumps([finding.to_dict() for finding in findings], indent=2)
