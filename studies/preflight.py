"""Before a launch: what would hurt a live study, found while nobody is taking it yet.

Each check gives a Finding: "fail" means participants would be turned away or their
answers could not be used; "warn" means the study runs but something a reviewer or a
participant would notice is off. The deployment checks read the settings this process
runs with, so run them (`manage.py preflight`, or the study page) on the serving machine.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q

from generation.jobs import workers
from generation.models import Rendering
from studies.design import BlockKind, names_in_title
from studies.models import Block, Participant, Study, System

OK, WARN, FAIL = "ok", "warn", "fail"
LEVEL_ORDER = [FAIL, WARN, OK]  # what needs doing first
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
# Below this, SQLite (and the session store beside it) may fail to write an answer.
FREE_BYTES_FAIL = 200 * 2**20
FREE_BYTES_WARN = 2 * 2**30


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARN or FAIL
    topic: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Preflight:
    findings: list[Finding]  # failures first, then warnings, then what is fine

    @property
    def failed(self) -> int:
        return sum(finding.level == FAIL for finding in self.findings)

    @property
    def warned(self) -> int:
        return sum(finding.level == WARN for finding in self.findings)

    @property
    def level(self) -> str:
        return FAIL if self.failed else WARN if self.warned else OK


def preflight(study: Study | None = None, *, forwarded_header: str = "") -> Preflight:
    """The deployment's findings and the study's; forwarded_header: a proxy header seen on
    the request that asked (X-Forwarded-For), so a missing EARSHOT_CLIENT_IP_HEADER shows."""
    findings = deployment_findings(forwarded_header=forwarded_header)
    if study is not None:
        findings += study_findings(study)
    return Preflight(sorted(findings, key=lambda finding: LEVEL_ORDER.index(finding.level)))


# The deployment ---------------------------------------------------------------------------


def deployment_findings(*, forwarded_header: str = "") -> list[Finding]:
    return [
        _debug(),
        _allowed_hosts(),
        _https(),
        _client_addresses(forwarded_header),
        _rate_limit_store(),
        _migrations(),
        _job_worker(),
        _free_space(Path(settings.DATA_DIR)),
    ]


def _debug() -> Finding:
    if settings.DEBUG:
        return Finding(
            FAIL,
            "debug",
            "DEBUG is on: an error page would show participants file paths and settings. "
            "Serve with make serve (EARSHOT_PRODUCTION=true).",
        )
    return Finding(OK, "debug", "DEBUG is off.")


def _allowed_hosts() -> Finding:
    hosts = set(settings.ALLOWED_HOSTS)
    if "*" in hosts:
        return Finding(
            WARN,
            "hosts",
            "ALLOWED_HOSTS accepts any name ('*'): set the study's own host name.",
        )
    if hosts <= LOCAL_HOSTS:
        return Finding(
            WARN,
            "hosts",
            "ALLOWED_HOSTS names only this machine: participants reaching it by any "
            "other name get 400 Bad Request. Set ALLOWED_HOSTS to the public host name.",
        )
    return Finding(OK, "hosts", f"Serving {', '.join(sorted(hosts - LOCAL_HOSTS))}.")


def _https() -> Finding:
    if not settings.HTTPS:
        return Finding(
            WARN,
            "https",
            "EARSHOT_HTTPS is off: answers and session cookies travel unencrypted, and "
            "crowdsourcing platforms expect an https:// study link. Put a TLS proxy in front "
            "(README, Running a real study) and set EARSHOT_HTTPS=true.",
        )
    return Finding(OK, "https", "HTTPS: secure cookies, plain HTTP redirected.")


def _client_addresses(forwarded_header: str) -> Finding:
    if settings.CLIENT_IP_HEADER:
        return Finding(OK, "addresses", f"Client addresses come from {settings.CLIENT_IP_HEADER}.")
    behind_proxy = forwarded_header or settings.HTTPS
    if behind_proxy:
        seen = f" (this request came with {forwarded_header})" if forwarded_header else ""
        return Finding(
            FAIL if forwarded_header else WARN,
            "addresses",
            f"The site runs behind a proxy{seen} but EARSHOT_CLIENT_IP_HEADER is empty: every "
            f"participant seems to come from the proxy's address, and after "
            f"{settings.JOINS_PER_HOUR} new participants in an hour the rest are turned away "
            "(429). Set EARSHOT_CLIENT_IP_HEADER to the header your proxy sets.",
        )
    return Finding(OK, "addresses", "Participants are counted by their own addresses.")


def _rate_limit_store() -> Finding:
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if settings.RATE_LIMIT_STORE == "cache" and vendor != "sqlite":
        return Finding(
            WARN,
            "limits",
            "Rate limits are counted in each machine's own cache: with several web machines a "
            "client may send that many times the limit. Set EARSHOT_RATE_LIMIT_STORE=database.",
        )
    where = "the database" if settings.RATE_LIMIT_STORE == "database" else "this machine's cache"
    return Finding(OK, "limits", f"Rate limits are counted in {where}.")


def _migrations() -> Finding:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return Finding(
            FAIL,
            "database",
            f"{len(plan)} migration(s) not applied: run manage.py migrate before serving.",
        )
    return Finding(OK, "database", f"Database ({connection.vendor}) is up to date.")


def _job_worker() -> Finding:
    if not workers.live_workers():
        return Finding(
            WARN,
            "worker",
            "No job worker has been seen in the last "
            f"{settings.WORKER_STALE_SECONDS} s: building studies, rendering and generation "
            "wait until one runs (manage.py run_worker; make serve starts one).",
        )
    return Finding(OK, "worker", "A job worker is running.")


def _free_space(folder: Path) -> Finding:
    free = shutil.disk_usage(folder).free
    gib = free / 2**30
    if free < FREE_BYTES_FAIL:
        return Finding(
            FAIL,
            "disk",
            f"Only {free / 2**20:.0f} MB free under {folder}: the database may fail to "
            "store answers. Free some space before launching.",
        )
    if free < FREE_BYTES_WARN:
        return Finding(WARN, "disk", f"{gib:.1f} GB free under {folder}; keep an eye on it.")
    return Finding(OK, "disk", f"{gib:.0f} GB free under {folder}.")


# The study --------------------------------------------------------------------------------


def study_findings(study: Study) -> list[Finding]:
    renderings = [stimulus.rendering for stimulus in study.stimuli.select_related("rendering")]
    findings = [_state(study), _clips(study, renderings)]
    if study.is_built:
        findings.append(_loudness(renderings))
    findings += [
        _completion(study),
        public_title_finding(study),
        _human_reference(study),
        _attention(study),
        _owner(study),
        _previewed(study),
    ]
    return findings


def _state(study: Study) -> Finding:
    if study.state == Study.State.OPEN:
        return Finding(OK, "state", "The study is open.")
    return Finding(
        WARN,
        "state",
        f"The study is {study.state}: participants following the link are told it is not "
        "open. Open it when you launch.",
    )


def _clips(study: Study, renderings: list[Rendering]) -> Finding:
    if not study.is_built:
        return Finding(FAIL, "clips", "The study has no clips yet: build it first.")
    missing = [relative for rendering in renderings for relative in rendering.missing_files()]
    profiles = {rendering.profile_id for rendering in renderings}
    if missing:
        return Finding(
            FAIL,
            "clips",
            f"{len(missing)} of the study's audio files are missing or empty on this machine "
            f"(first: {missing[0]}); participants would get silence. Copy MEDIA_ROOT from the "
            "machine that built the study, or build it again.",
        )
    if len(profiles) > 1:
        return Finding(
            FAIL,
            "clips",
            "The clips come from more than one render profile: listeners could tell systems "
            "apart by sound. Build the study again.",
        )
    return Finding(OK, "clips", f"All {len(renderings)} clips are on this machine.")


def _loudness(renderings: list[Rendering]) -> Finding:
    held = sum(1 for rendering in renderings if rendering.peak_limited)
    levels = [r.loudness_lufs for r in renderings if r.loudness_lufs is not None]
    spread = max(levels) - min(levels) if levels else 0.0
    if held or spread > 1.0:
        return Finding(
            WARN,
            "loudness",
            f"{held} clip(s) sit below the loudness target (held by the true-peak ceiling); "
            f"loudness spans {spread:.1f} LU. Listeners may hear level differences; "
            "a lower target in the render profile removes them.",
        )
    return Finding(
        OK, "loudness", f"Clip loudness spans {spread:.1f} LU; none is held below the target."
    )


def _completion(study: Study) -> Finding:
    if not study.redirect_url:
        return Finding(
            OK,
            "completion",
            f"Participants are shown the completion code {study.completion_code} to paste.",
        )
    address = urlsplit(study.redirect_url)
    codes = parse_qs(address.query).get("cc", [])
    if codes and study.completion_code not in codes:
        return Finding(
            FAIL,
            "completion",
            f"The redirect hands the platform the code {codes[0]}, but participants are shown "
            f"{study.completion_code}: their submissions would not match. Make them the same.",
        )
    if address.scheme != "https":
        return Finding(WARN, "completion", "The redirect address is not https: browsers may warn.")
    return Finding(OK, "completion", f"Finishers are sent to {address.netloc}.")


def public_title_finding(study: Study) -> Finding:
    names = study_names(study)
    found = names_in_title(study.participant_title, names)
    if found:
        return Finding(
            WARN,
            "title",
            f"The title participants see, \u201c{study.participant_title}\u201d, names "
            f"{', '.join(found)}: it tells listeners what they compare. Give the study a "
            "public title that names no system.",
        )
    return Finding(OK, "title", "The title participants see names no system.")


def study_names(study: Study) -> list[str]:
    """Names that identify a study's systems: their own, and for generated systems their
    sample sets', datasets', models' and model families'."""
    names = []
    systems = study.systems.select_related("sample_set__checkpoint", "checkpoint", "dataset")
    for system in systems:
        names.append(system.name)
        if system.is_human:
            continue
        checkpoint = system.checkpoint or (system.sample_set and system.sample_set.checkpoint)
        if system.sample_set:
            names.append(system.sample_set.name)
        if system.dataset:
            names.append(system.dataset.name)
        if checkpoint:
            names.append(checkpoint.family)
    return list(dict.fromkeys(names))


def _human_reference(study: Study) -> Finding:
    judged = study.blocks.filter(kind__in=[BlockKind.RATING.value, BlockKind.TURING.value])
    if not judged.exists():
        return Finding(OK, "reference", "No rating or Turing block needs a human reference.")
    if not study.systems.filter(kind=System.Kind.HUMAN).exists():
        return Finding(
            WARN,
            "reference",
            "No hidden human reference: ratings and human-or-machine answers have nothing "
            "to be compared with. Add a system with human pieces.",
        )
    return Finding(OK, "reference", "Human pieces are hidden among the clips.")


def _attention(study: Study) -> Finding:
    # A post-screened MUSHRA block checks every page: its hidden reference must be heard.
    checked = Block.objects.filter(
        Q(instructed_checks__gt=0) | Q(post_screening=True), study=study
    ).exists()
    if not (checked or study.headphone_screen):
        return Finding(
            WARN,
            "attention",
            "No attention check and no headphone screen: inattentive crowd workers cannot be "
            "told apart. Add instructed checks to a block.",
        )
    return Finding(
        OK,
        "attention",
        "Attention checks, a headphone screen or MUSHRA's post-screening are in place.",
    )


def _owner(study: Study) -> Finding:
    if study.created_by_id is None:
        return Finding(
            WARN,
            "owner",
            "The study has no owner: every experimenter account can see and export its "
            "answers. Create it with an owner (create_study --owner, or from the site).",
        )
    return Finding(OK, "owner", "Only the owner and collaborators see the answers.")


def _previewed(study: Study) -> Finding:
    tried = Participant.objects.filter(
        study=study, is_preview=True, stage=Participant.Stage.DONE
    ).exists()
    if not tried:
        return Finding(
            WARN,
            "preview",
            "Nobody has taken the study to the end in preview: take it once as a participant "
            "would (Preview as a participant).",
        )
    return Finding(OK, "preview", "Taken to the end in preview.")
