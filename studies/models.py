from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse

from generation.models import (
    Checkpoint,
    Dataset,
    Job,
    Piece,
    Rendering,
    RenderProfile,
    Sample,
    SampleSet,
)
from studies import headphone_screen
from studies.answers import MUSICAL_TRAINING
from studies.design import LANGUAGES, BlockKind, RatingScale, StudySpec


def new_token() -> str:
    return secrets.token_urlsafe(16)


def new_completion_code() -> str:
    # Upper-case letters and digits without look-alikes: read aloud or typed by hand.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class Study(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        CLOSED = "closed"

    # The experimenter's address for it (/studies/<slug>/), unique among the studies one
    # experimenter can see, not site-wide: a clash never tells anyone that another person's
    # study exists. Participants use access_key.
    slug = models.SlugField(max_length=100)
    access_key = models.CharField(
        max_length=32,
        unique=True,
        default=new_token,
        help_text="the participants' address /s/<key>/: random, so a study cannot be guessed",
    )
    title = models.CharField(max_length=200, help_text="the experimenters' name for it")
    public_title = models.CharField(
        max_length=200, blank=True, help_text="what participants see; empty: the title"
    )
    instructions = models.TextField()
    consent_text = models.TextField()
    # The analysis plan frozen when the study first opened (studies.preregistration).
    preregistration = models.TextField(blank=True)
    preregistration_sha256 = models.CharField(max_length=64, blank=True)
    preregistered_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(
        max_length=5,
        choices=list(LANGUAGES.items()),
        default="en",
        help_text="the participants' language: earshot's own texts on their pages are in it",
    )
    state = models.CharField(max_length=6, choices=State.choices, default=State.DRAFT)
    spec = models.JSONField(help_text="studies.design.StudySpec.to_dict(): how it was built")
    seed = models.IntegerField(default=0)
    headphone_screen = models.BooleanField(default=False)
    exclude_failed_checks = models.BooleanField(
        default=True, help_text="analyses leave out listeners who failed the screen or a check"
    )
    completion_code = models.CharField(max_length=50, default=new_completion_code)
    redirect_url = models.URLField(max_length=500, blank=True)
    assignment_expiry_minutes = models.PositiveIntegerField(default=60)
    answer_timing = models.CharField(
        max_length=6,
        choices=[("refuse", "refuse"), ("flag", "store and flag")],
        default="refuse",
        help_text="an answer sent before its clips could have been heard",
    )
    speeder_floor_seconds = models.FloatField(
        default=0.5,
        help_text="listeners whose median answer comes sooner after the clips end are flagged",
    )
    render_profile = models.ForeignKey(
        RenderProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    build_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    built_at = models.DateTimeField(null=True, blank=True)
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="the owner; a study nobody owns is shared by every experimenter",
    )
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="shared_studies",
        help_text="experimenters who may see and run this study besides its owner",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(fields=["created_by", "slug"], name="one_slug_per_owner"),
            models.UniqueConstraint(
                fields=["slug"],
                condition=models.Q(created_by__isnull=True),
                name="one_slug_per_ownerless_study",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("studies:detail", args=[self.slug])

    def participant_path(self) -> str:
        return reverse("studies:take", args=[self.access_key])

    def participant_url(self, base_url: str) -> str:
        """The link participants open, on the site at ``base_url``."""
        return f"{base_url.rstrip('/')}{self.participant_path()}"

    @property
    def design(self) -> StudySpec:
        return StudySpec.from_dict(self.spec)

    @property
    def participant_title(self) -> str:
        return self.public_title.strip() or self.title

    @property
    def is_built(self) -> bool:
        return self.built_at is not None


class System(models.Model):
    """A system under test: a model's samples (checkpoint + settings) or human pieces."""

    class Kind(models.TextChoices):
        GENERATED = "generated"
        HUMAN = "human"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="systems")
    name = models.SlugField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sample_set = models.ForeignKey(
        SampleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    style = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["study", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="unique_system_per_study")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_human(self) -> bool:
        return self.kind == self.Kind.HUMAN


class Block(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="blocks")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=[(k.value, k.value) for k in BlockKind])
    introduction = models.TextField(
        blank=True, help_text="the block's introduction screen; empty: a default for its kind"
    )
    adaptive = models.BooleanField(
        default=False, help_text="pairwise: pairs chosen by expected information"
    )
    title = models.CharField(max_length=200)
    prompt = models.TextField(blank=True)
    systems = models.ManyToManyField(System, related_name="blocks")
    trials_per_participant = models.PositiveIntegerField(null=True, blank=True)
    scale = models.CharField(
        max_length=5,
        choices=[(s.value, s.value) for s in RatingScale],
        default=RatingScale.TEN.value,
    )
    ask_human = models.BooleanField(default=False)
    ask_confidence = models.BooleanField(default=False)
    allow_no_preference = models.BooleanField(default=False)
    pairs = models.JSONField(default=list, blank=True, help_text="[[system, system], ...]")
    styles = models.JSONField(default=list, blank=True, help_text="the style answers offered")
    instructed_checks = models.PositiveSmallIntegerField(default=0)
    repeats = models.PositiveSmallIntegerField(default=0)
    reference = models.ForeignKey(
        System,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="MUSHRA: each page's reference, open and hidden; ABX: the system told apart",
    )
    anchor = models.ForeignKey(
        System,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="MUSHRA: the low anchor rated on every page",
    )
    post_screening = models.BooleanField(
        default=False,
        help_text="MUSHRA: exclude listeners who rate the hidden reference below 90 on more "
        "than 15% of pages",
    )

    class Meta:
        ordering = ["study", "position"]
        constraints = [
            models.UniqueConstraint(fields=["study", "position"], name="unique_block_position")
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} block {self.position + 1}: {self.title}"


class Stimulus(models.Model):
    """One clip a participant may hear, traceable to its system, sample or piece."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="stimuli")
    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="stimuli")
    rendering = models.ForeignKey(Rendering, on_delete=models.PROTECT, related_name="+")
    sample = models.ForeignKey(
        Sample, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    piece = models.ForeignKey(
        Piece, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    style = models.CharField(max_length=100, blank=True, help_text="its true style")

    class Meta:
        ordering = ["system", "pk"]
        verbose_name_plural = "stimuli"
        constraints = [
            models.UniqueConstraint(
                fields=["system", "rendering"], name="unique_rendering_per_system"
            )
        ]

    def __str__(self) -> str:
        return f"stimulus {self.pk} ({self.system.name})"

    @property
    def source_label(self) -> str:
        if self.sample_id:
            return f"{self.sample.sample_set.name} #{self.sample.index}"
        if self.piece_id:
            return f"{self.piece.dataset.name}/{self.piece.identifier}"
        return self.rendering.source_label


class Participant(models.Model):
    class Stage(models.TextChoices):
        QUESTIONNAIRE = "questionnaire"
        SCREEN = "screen", "headphone screen"
        INSTRUCTIONS = "instructions"
        TRIALS = "trials"
        DONE = "done"
        DECLINED = "declined", "declined consent"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    public_id = models.CharField(max_length=32, unique=True, default=new_token)
    link_key = models.CharField(
        max_length=300, blank=True, help_text="the link parameters that identify a taker"
    )
    prolific_pid = models.CharField(max_length=100, blank=True)
    prolific_study_id = models.CharField(max_length=100, blank=True)
    prolific_session_id = models.CharField(max_length=100, blank=True)
    external_pid = models.CharField(max_length=100, blank=True, help_text="the generic pid")
    stage = models.CharField(max_length=13, choices=Stage.choices)
    # Answers imported as counts per clip stand for listeners nobody can tell apart: each
    # is one such participant, and analyses leave them out of every listener-level model.
    listener_unknown = models.BooleanField(default=False)
    # Blocks whose introduction screen the participant has passed (block ids).
    introduced_blocks = models.JSONField(default=list, blank=True)
    is_preview = models.BooleanField(default=False, help_text="an experimenter trying it out")
    is_simulated = models.BooleanField(
        default=False, help_text="answers drawn from a model by simulate_answers, not a person"
    )
    age_band = models.CharField(max_length=10, blank=True)
    musical_training = models.PositiveSmallIntegerField(null=True, blank=True)
    listening_device = models.CharField(max_length=20, blank=True)
    screen_order = models.JSONField(default=list, blank=True)
    screen_answers = models.JSONField(default=list, blank=True)
    screen_passed = models.BooleanField(null=True, blank=True)
    order_seed = models.BigIntegerField(null=True, blank=True)
    checks_failed = models.PositiveSmallIntegerField(default=0)
    # Set when the trials are assigned; trials_done advances with each answer, in order, so
    # the trial at position trials_done is the one the participant is on.
    trial_count = models.PositiveIntegerField(default=0)
    check_count = models.PositiveIntegerField(default=0)
    trials_done = models.PositiveIntegerField(default=0)
    exclusion_reasons = models.JSONField(default=list, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "link_key"],
                condition=~models.Q(link_key=""),
                name="one_take_per_link",
            )
        ]
        indexes = [models.Index(fields=["study", "stage", "expires_at"])]

    def __str__(self) -> str:
        return f"participant {self.public_id[:8]} ({self.study.slug})"

    @property
    def external_id(self) -> str:
        return self.prolific_pid or self.external_pid

    @property
    def musical_training_words(self) -> str:
        """The questionnaire's wording of the answer ("1-3 years"), not its stored code."""
        if self.musical_training is None:
            return ""
        return MUSICAL_TRAINING.get(self.musical_training, str(self.musical_training))

    @property
    def screen_score(self) -> int | None:
        """Headphone-screen trials answered right; None when the study has no screen."""
        if not self.screen_order:
            return None
        return headphone_screen.score(self.screen_order, self.screen_answers)


class Trial(models.Model):
    class Kind(models.TextChoices):
        MAIN = "main"
        INSTRUCTED = "instructed", "instructed-answer check"
        REPEAT = "repeat", "repeated clip"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="trials")
    position = models.PositiveIntegerField(help_text="order heard, from 0")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MAIN)
    first = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="+")
    second = models.ForeignKey(
        Stimulus, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expected = models.JSONField(null=True, blank=True, help_text="the answer a check asks for")
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats"
    )
    token = models.CharField(max_length=32, unique=True, default=new_token)
    # What the server saw, which a script cannot forge: when the trial page first went out and
    # when each clip's bytes were first sent.
    shown_at = models.DateTimeField(null=True, blank=True)
    first_served_at = models.DateTimeField(null=True, blank=True)
    second_served_at = models.DateTimeField(null=True, blank=True)
    # Clips after the second (a MUSHRA page's, ABX's X) are TrialClip rows; most trials have
    # none, and this count spares them the query.
    more_clips = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "position"], name="unique_trial_position"
            )
        ]

    def __str__(self) -> str:
        return f"trial {self.position + 1} of {self.participant}"

    @property
    def stimuli(self) -> list[Stimulus]:
        """Every clip of the trial in its slot order."""
        clips = [self.first, self.second] if self.second_id else [self.first]
        return clips + [clip.stimulus for clip in self.later_clips]

    @property
    def later_clips(self) -> list[TrialClip]:
        """The clips after the second, read once per trial object."""
        if not self.more_clips:
            return []
        if "_later_clips" not in self.__dict__:
            self.__dict__["_later_clips"] = list(
                self.clips.select_related("stimulus__rendering", "stimulus__system").order_by(
                    "slot"
                )
            )
        return self.__dict__["_later_clips"]


class TrialClip(models.Model):
    """A trial's clip after its first two (slot 2 on): the rest of a MUSHRA page, ABX's X."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="clips")
    slot = models.PositiveSmallIntegerField(help_text="its place among the trial's clips, from 0")
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="+")
    served_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["trial", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "slot"], name="unique_trial_clip_slot")
        ]

    def __str__(self) -> str:
        return f"clip {self.slot + 1} of {self.trial}"


class Response(models.Model):
    """One answer. One per trial: a retried POST finds it instead of adding another."""

    class Choice(models.TextChoices):
        FIRST = "first"
        SECOND = "second"
        NONE = "none", "no preference"

    class Source(models.TextChoices):
        WEB = "web"
        IMPORT = "import"
        SIMULATED = "simulated"

    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="response")
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    # MUSHRA: the 0-100 rating of each clip in slot order; None for the open reference.
    ratings = models.JSONField(null=True, blank=True)
    could_be_human = models.BooleanField(null=True, blank=True)
    judged_human = models.BooleanField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    choice = models.CharField(max_length=6, blank=True, choices=Choice.choices)
    style = models.CharField(max_length=100, blank=True)
    passed_check = models.BooleanField(null=True, blank=True)
    plays = models.JSONField(default=list, help_text="times each clip was started")
    listening_seconds = models.FloatField(null=True, blank=True)
    response_seconds = models.FloatField(
        null=True, blank=True, help_text="from the controls unlocking to the answer"
    )
    trial_seconds = models.FloatField(null=True, blank=True, help_text="page shown to answer")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    too_fast = models.BooleanField(
        default=False, help_text="sent before its clips could have been heard (stored and flagged)"
    )
    answered_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"answer to {self.trial}"


class RateWindow(models.Model):
    """Requests counted in one fixed window of a rate limit (EARSHOT_RATE_LIMIT_STORE=database):
    every web machine counts in the same row, so the limit holds across machines."""

    key = models.CharField(max_length=250, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
