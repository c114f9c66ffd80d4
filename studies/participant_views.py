"""The participant's pages (no login): one address per study, /s/<key>/ (Study.access_key, random).

A participant's browser is known by a signed cookie scoped to the study's address, not by a
Django session: a visit writes no database row until the participant consents, and the hot
path (a trial page, an answer) reads no session. The cookie holds the participant's public id,
minted on the first visit, so a consent sent twice joins once; it says whether that id has
joined, so rate limits count joined participants by id and everyone else by address.

Every step is a GET showing the current stage and a POST that names the stage it answers;
a POST for a stage already passed (a back button, a second tab) changes nothing and gets a
409 showing where the participant is; the same answer sent again (a retry) is a success
that stores nothing new. After each POST the browser is redirected, so a reload never
sends an answer twice.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from config.media import file_with_ranges
from generation.audio.rendering import FORMATS
from studies import headphone_screen, selectors, services, throttle
from studies.answers import (
    MUSICAL_TRAINING,
    QUESTIONNAIRE,
    QUESTIONNAIRE_LABELS,
    AnswerConflict,
    AnswerError,
)
from studies.design import (
    ABX_ANSWERS,
    BLOCK_INTRODUCTIONS,
    CONFIDENCE_LABELS,
    MUSHRA_BANDS,
    BlockKind,
    scale_choices,
)
from studies.models import Block, Participant, Study, Trial, new_token

Stage = Participant.Stage
PROMPTS = {
    BlockKind.RATING: gettext_noop("How good is this music?"),
    BlockKind.TURING: gettext_noop("Was this composed by a human or by a machine?"),
    BlockKind.PAIRWISE: gettext_noop("Which of the two clips do you prefer?"),
    BlockKind.STYLE: gettext_noop("Which style is this music in?"),
    BlockKind.MUSHRA: gettext_noop("How good is each clip, compared with the reference?"),
    BlockKind.ABX: gettext_noop("Is X from the same source as A, or as B?"),
}


def participant_message(error: AnswerError) -> str:
    """An answer's error in the study's language (the active one)."""
    return error.in_language(gettext)


def _listen_text() -> dict:
    """What listen.js writes on the page, in the study's language."""
    return {
        "playing": gettext("playing"),
        "paused": gettext("paused"),
        "heard": gettext("heard to the end"),
        "pause": gettext("Pause"),
        "cannot_play": gettext("could not play; please try again"),
        "cannot_load": gettext("could not load; please reload the page"),
        "rate_every_clip": gettext("Please rate every clip on the page: move each slider."),
        "connection_lost": gettext(
            "Connection lost: your answer will be sent again in %(seconds)s s. Please keep "
            "this page open."
        ),
    }


LINK_COOKIE = "earshot_link_{key}"
COOKIE_AGE = 90 * 24 * 3600


class _Visit:
    """What this request's browser brings: its identity cookie and link values, and the
    cookies to set on the response."""

    def __init__(self, request, key: str) -> None:
        self.request = request
        self.key = key
        self.identity = throttle.participant_identity(request, key)
        self.cookies: dict[str, str] = {}

    def minted_id(self) -> str:
        """This browser's participant id, minted (and its cookie set) on a first visit."""
        if self.identity is None:
            self.identity = throttle.Identity(public_id=new_token(), joined=False)
            self.cookies[throttle.IDENTITY_COOKIE.format(key=self.key)] = self.identity.value
        return self.identity.public_id

    def joined_as(self, participant: Participant) -> None:
        self.identity = throttle.Identity(public_id=participant.public_id, joined=True)
        self.cookies[throttle.IDENTITY_COOKIE.format(key=self.key)] = self.identity.value

    def link(self) -> services.LinkParameters:
        """The link values of this visit, or those the browser arrived with (kept across
        the consent page)."""
        arrived = services.LinkParameters.from_query(self.request.GET)
        if arrived.key or arrived.prolific_session_id:
            self.cookies[LINK_COOKIE.format(key=self.key)] = json.dumps(asdict(arrived))
            return arrived
        stored = self.request.get_signed_cookie(
            LINK_COOKIE.format(key=self.key), default=None, salt=throttle.COOKIE_SALT
        )
        try:
            return services.LinkParameters(**json.loads(stored)) if stored else arrived
        except (TypeError, ValueError):
            return arrived

    def finish(self, response: HttpResponse, study: Study) -> HttpResponse:
        for name, value in self.cookies.items():
            response.set_signed_cookie(
                name,
                value,
                salt=throttle.COOKIE_SALT,
                max_age=COOKIE_AGE,
                path=study.participant_path(),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def _load(visit: _Visit) -> tuple[Study, Participant | None]:
    """The study and the participant this browser is, in one query when it has joined."""
    if visit.identity is not None and visit.identity.joined:
        found = services.joined_participant(visit.identity.public_id, visit.key)
        if found is not None:
            return found.study, found
    study = Study.objects.get(access_key=visit.key)
    if visit.identity is not None:
        found = Participant.objects.filter(study=study, public_id=visit.identity.public_id).first()
        if found is not None:
            visit.joined_as(found)
            return study, found
    found = services.returning_participant(study, visit.link())
    if found is not None:
        visit.joined_as(found)
    return study, found


def _remember_preview(request, study: Study) -> None:
    if request.GET.get("preview") == "1" and selectors.can_see(request.user, study):
        request.session[f"earshot.preview.{study.pk}"] = True


def _is_preview(request, study: Study) -> bool:
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False  # not logged in: no session to read
    return bool(
        request.session.get(f"earshot.preview.{study.pk}")
        and selectors.can_see(request.user, study)
    )


@never_cache
@require_http_methods(["GET", "POST"])
@throttle.per_participant
def take(request, key):
    visit = _Visit(request, key)
    try:
        study, participant = _load(visit)
    except Study.DoesNotExist:
        # A mistyped or truncated link: the participant's own page, with DEBUG on or off,
        # in the browser's language when earshot has it (the study, and its own, is unknown).
        with translation.override(translation.get_language_from_request(request)):
            return render(request, "studies/take/not_found.html", status=404)
    except services.StartedElsewhere:
        study = get_object_or_404(Study, access_key=key)
        with translation.override(study.language):
            return render(request, "studies/take/elsewhere.html", {"study": study}, status=403)
    with translation.override(study.language):
        if request.method == "GET":
            _remember_preview(request, study)
            visit.minted_id()
            return visit.finish(_show(request, study, participant), study)
        return visit.finish(_answer(request, visit, study, participant), study)


def _page(request, template: str, study: Study, participant, status=200, **context):
    context.update(
        study=study,
        participant=participant,
        progress=_progress(participant),
        listen_text=_listen_text(),
    )
    # Rendered now, inside the study's language (a lazy response would render outside it).
    return render(request, f"studies/take/{template}", context, status=status)


def _progress(participant: Participant | None) -> dict | None:
    if participant is None or participant.stage != Stage.TRIALS:
        return None
    total, done = participant.trial_count, participant.trials_done
    return {"done": done, "total": total, "current": min(done + 1, total)}


def _show(request, study: Study, participant: Participant | None, *, error: str = "", status=200):
    preview = _is_preview(request, study)
    if participant is None:
        if study.state != Study.State.OPEN and not preview:
            return _page(request, "unavailable.html", study, None, status=403)
        return _page(
            request, "consent.html", study, None, status=status, error=error, preview=preview
        )
    stage = participant.stage
    if stage == Stage.QUESTIONNAIRE:
        return _page(
            request,
            "questionnaire.html",
            study,
            participant,
            status=status,
            error=error,
            ages=[
                (age, gettext(QUESTIONNAIRE_LABELS.get(age, age)))
                for age in QUESTIONNAIRE["age_band"]
            ],
            devices=[
                (device, gettext(QUESTIONNAIRE_LABELS[device]))
                for device in QUESTIONNAIRE["listening_device"]
            ],
            training=[(value, gettext(label)) for value, label in MUSICAL_TRAINING.items()],
        )
    if stage == Stage.SCREEN:
        index = len(participant.screen_answers)
        return _page(
            request,
            "screen.html",
            study,
            participant,
            status=status,
            error=error,
            index=index,
            total=headphone_screen.N_TRIALS,
            clip={
                "index": 0,
                "play_text": gettext("Play the tones"),
                "again_text": gettext("Play the tones"),
                "prefix": "",
                "sources": [
                    (reverse("studies:screen", args=[study.access_key, index]), FORMATS["wav"][3])
                ],
            },
        )
    if stage == Stage.INSTRUCTIONS:
        return _page(request, "instructions.html", study, participant, status=status, error=error)
    if stage == Stage.TRIALS:
        trials = services.current_trials(participant)
        if trials and _needs_introduction(study, participant, trials[0].block):
            block = trials[0].block
            return _block_introduction(
                request, study, participant, block, error=error, status=status
            )
        if trials:
            following = trials[1] if len(trials) > 1 else None
            return _trial_page(
                request, study, participant, trials[0], following, error=error, status=status
            )
    if stage == Stage.DECLINED:
        return _page(request, "declined.html", study, participant, status=status, error=error)
    return _page(request, "done.html", study, participant, status=status, error=error)


def _needs_introduction(study: Study, participant: Participant, block: Block) -> bool:
    """A block's introduction screen comes before its first trial when the study has several
    blocks (one block: the study's instructions introduce it) or the block has its own."""
    if block.pk in participant.introduced_blocks:
        return False
    return len(study.spec.get("blocks", ())) > 1 or bool(block.introduction.strip())


def _block_introduction(request, study, participant, block: Block, *, error="", status=200):
    return _page(
        request,
        "block_intro.html",
        study,
        participant,
        status=status,
        error=error,
        trial_block=block,
        part=block.position + 1,
        parts=len(study.spec.get("blocks", ())),
        introduction=block.introduction.strip()
        or gettext(BLOCK_INTRODUCTIONS[BlockKind(block.kind)]),
        questions=participant.trials.filter(block=block).count(),
    )


def _introduced(request, study: Study, participant: Participant):
    if participant.stage != Stage.TRIALS:
        return redirect(study.participant_path())  # a stale page: show where they are
    try:
        block_id = int(request.POST.get("block", ""))
    except ValueError:
        block_id = None
    if not participant.trials.filter(block_id=block_id).exists():
        return _show(
            request,
            study,
            participant,
            error=gettext("That part is not in your study."),
            status=400,
        )
    services.introduce_block(participant, block_id)
    return redirect(study.participant_path())


def _trial_page(request, study, participant, trial: Trial, following, *, error="", status=200):
    block = trial.block
    kind = BlockKind(block.kind)
    services.mark_shown(trial)
    return _page(
        request,
        "trial.html",
        study,
        participant,
        status=status,
        error=error,
        trial=trial,
        trial_block=block,  # not "block": Django's {% block %} tag sets that name
        kind=kind.value,
        prompt=block.prompt or gettext(PROMPTS[kind]),
        instruction=_instruction(trial),
        clips=_clip_sources(study, trial),
        prefetch=[url for url, _ in _sources(study, following, 0, following.first)[:1]]
        if following
        else [],
        scale=[
            # gettext("") would return the catalogue's header, hence the guard.
            (value, gettext(text), gettext(caption) if caption else "")
            for value, text, caption in scale_choices(block.scale)
        ],
        confidence=[(value, gettext(label)) for value, label in CONFIDENCE_LABELS.items()],
        styles=block.styles,
        bands=[(floor, gettext(word)) for floor, word in MUSHRA_BANDS],
        abx_answers=[(value, gettext(text)) for value, text in ABX_ANSWERS.items()],
    )


def _instruction(trial: Trial) -> str:
    """What an attention check asks, in words."""
    expected = trial.expected or {}
    if "rating" in expected:
        return gettext("Attention check: for this clip, please answer %(answer)s.") % {
            "answer": expected["rating"]
        }
    if "judged_human" in expected:
        answer = gettext("Human") if expected["judged_human"] else gettext("Machine")
        return gettext("Attention check: for this clip, please answer “%(answer)s”.") % {
            "answer": answer
        }
    if "choice" in expected and trial.block.kind == BlockKind.ABX:
        answer = ABX_ANSWERS[expected["choice"]]
        return gettext("Attention check: please answer “%(answer)s”.") % {"answer": gettext(answer)}
    if "choice" in expected:
        return gettext("Attention check: please choose clip %(clip)s.") % {
            "clip": "A" if expected["choice"] == "first" else "B"
        }
    if "style" in expected:
        return gettext("Attention check: for this clip, please answer “%(answer)s”.") % {
            "answer": expected["style"].title()
        }
    return ""


def _clip_labels(trial: Trial, count: int) -> list[str]:
    """What each clip is called on the page: A and B in a pair, A, B and X in ABX; on a
    MUSHRA page the reference, then numbers."""
    if trial.block.kind == BlockKind.MUSHRA:
        return [gettext("Reference")] + [str(n) for n in range(1, count)]
    if trial.block.kind == BlockKind.ABX:
        return ["A", "B", "X"][:count]
    return list("AB")[:count] if count > 1 else [""]


def _sources(study: Study, trial: Trial, index: int, stimulus) -> list[tuple[str, str]]:
    """(address, type) of one clip of the trial in each format a browser may play."""
    return [
        (
            reverse("studies:clip", args=[study.access_key, trial.token, index, fmt]),
            FORMATS[fmt][3],
        )
        for fmt in stimulus.rendering.browser_formats()
    ]


def _clip_sources(study: Study, trial: Trial) -> list[dict]:
    clips = []
    stimuli = trial.stimuli
    labels = _clip_labels(trial, len(stimuli))
    kind = BlockKind(trial.block.kind)
    for index, stimulus in enumerate(stimuli):
        label = labels[index]
        if kind == BlockKind.MUSHRA and index == 0:
            words = (gettext("Play the reference"), gettext("Play the reference again"))
            prefix = gettext("Reference:")
        elif label:
            words = (
                gettext("Play clip %(label)s") % {"label": label},
                gettext("Play clip %(label)s again") % {"label": label},
            )
            prefix = gettext("Clip %(label)s:") % {"label": label}
        else:
            words, prefix = (gettext("Play"), gettext("Play again")), ""
        clips.append(
            {
                "index": index,
                "label": label,
                "play_text": words[0],
                "again_text": words[1],
                "prefix": prefix,
                "sources": _sources(study, trial, index, stimulus),
            }
        )
    return clips


def _answer(request, visit: _Visit, study: Study, participant: Participant | None):
    step = request.POST.get("step", "")
    if participant is None:
        if step != "consent":
            # An answer from a browser that never joined, or lost its cookie: nothing to add to.
            return _show(
                request,
                study,
                None,
                error=gettext(
                    "Your session was not found (cookies blocked or cleared?), so nothing "
                    "was saved. If you had started, open the link you were given again."
                ),
                status=403,
            )
        if request.POST.get("consent") not in ("yes", "no"):
            return _show(
                request, study, None, error=gettext("Please choose whether you agree."), status=400
            )
        wait = throttle.join_allowed(request)
        if wait:
            return throttle.too_many(wait, joins=True)
        try:
            participant = services.join(
                study,
                visit.link(),
                consent=request.POST["consent"] == "yes",
                public_id=visit.minted_id(),
                user_agent=request.headers.get("User-Agent", ""),
                preview=_is_preview(request, study),
            )
        except services.StudyUnavailable:
            return _page(request, "unavailable.html", study, None, status=403)
        except services.StartedElsewhere:
            return render(request, "studies/take/elsewhere.html", {"study": study}, status=403)
        visit.joined_as(participant)
        return redirect(study.participant_path())
    if step == "block":
        return _introduced(request, study, participant)
    answering_again = step == Stage.TRIALS and participant.stage == Stage.DONE
    if step != participant.stage and not answering_again:
        if services.is_repeat(participant, step, request.POST):
            return redirect(study.participant_path())  # a retry: it was stored the first time
        # A different answer to a page already answered (the back button, a second tab).
        return _show(
            request,
            study,
            participant,
            error=gettext("That page was already answered; here is where you are now."),
            status=409,
        )
    try:
        if step == Stage.QUESTIONNAIRE:
            services.save_questionnaire(participant, request.POST)
        elif step == Stage.SCREEN:
            index = int(request.POST.get("index", -1))
            services.answer_screen(participant, index, request.POST)
        elif step == Stage.INSTRUCTIONS:
            if not study.is_built:
                raise AnswerError(
                    gettext_noop("This study is not ready yet; please come back later.")
                )
            services.start_trials(participant)
        elif step == Stage.TRIALS:
            services.record_answer(participant, request.POST.get("trial", ""), request.POST)
    except AnswerConflict as error:
        participant.refresh_from_db()
        return _show(request, study, participant, error=participant_message(error), status=409)
    except (AnswerError, ValueError) as error:
        participant.refresh_from_db()
        return _show(request, study, participant, error=participant_message(error), status=400)
    return redirect(study.participant_path())


@require_safe
@throttle.per_participant
def clip(request, key, token, index, fmt):
    """One clip of one trial, to the participant it belongs to (or an experimenter who may
    see the study)."""
    trial = services.trial_of_clip(key, token)
    if trial is None:
        raise Http404("no such clip")
    identity = throttle.participant_identity(request, key)
    own = identity is not None and identity.public_id == trial.owner
    if not own and not selectors.can_see(request.user, Study.objects.get(access_key=key)):
        raise Http404("no such clip")
    stimuli = trial.stimuli
    if index >= len(stimuli) or fmt not in stimuli[index].rendering.files:
        raise Http404("no such clip")
    path = Path(settings.MEDIA_ROOT) / stimuli[index].rendering.files[fmt]
    if not path.is_file():
        raise Http404("no such clip")
    response = file_with_ranges(request, path, FORMATS[fmt][3])
    response["Cache-Control"] = "private, max-age=86400"
    if own:
        services.mark_served(trial, index)
    return response


@functools.lru_cache(maxsize=len(headphone_screen.VARIANTS))
def _screen_wav(variant: int) -> bytes:
    return headphone_screen.trial_wav(variant)


@require_safe
@throttle.per_participant
def screen_tone(request, key, index):
    try:
        _study, participant = _load(_Visit(request, key))
    except services.StartedElsewhere:
        raise Http404("no such sound") from None
    if (
        participant is None
        or not participant.screen_order
        or index >= len(participant.screen_order)
    ):
        raise Http404("no such sound")
    response = HttpResponse(
        _screen_wav(participant.screen_order[index]), content_type=FORMATS["wav"][3]
    )
    response["Cache-Control"] = "private, no-store"
    return response
