from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from generation.audio.rendering import FORMATS
from generation.audio.rendering import RenderProfile as RenderProfileSettings
from generation.music.scores import QuantizedPiece
from generation.music.splits import SPLITS


class BackgroundWork(models.Model):
    """The life of work done in the background: queued, running, then succeeded or failed."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @classmethod
    def mark_failed(cls, pk: int, error: str, *, at=None, only_if_running: bool = False) -> None:
        """Failed, with the error kept for its page (only_if_running: unless it ended already)."""
        rows = cls.objects.filter(pk=pk)
        if only_if_running:
            rows = rows.filter(status=cls.Status.RUNNING)
        rows.update(status=cls.Status.FAILED, finished_at=at or timezone.now(), error=error)


class Job(BackgroundWork):
    """A long piece of work run by the task worker, with progress a page can poll.

    Shared by every app: generation, studies and metrics all start jobs.
    """

    kind = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    result_url = models.CharField(max_length=300, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=1, help_text="a job whose worker died is started again, up to a limit"
    )

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("generation:job", args=[self.pk])

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))


class WorkerHeartbeat(models.Model):
    """A job worker says it is alive; a task whose worker fell silent is recovered."""

    worker_id = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker_id} (seen {self.seen_at:%H:%M:%S})"


class Dataset(models.Model):
    class Kind(models.TextChoices):
        MUSIC21 = "music21", "music21 corpus"
        MIDI = "midi", "MIDI folder"

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=500, help_text="corpus name or folder path")
    style = models.CharField(
        max_length=100, blank=True, help_text="default style label of its pieces"
    )
    description = models.TextField(blank=True)
    train_fraction = models.FloatField(default=0.8)
    valid_fraction = models.FloatField(default=0.1)
    test_fraction = models.FloatField(default=0.1)
    import_report = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now=True)
    # Off by default: a dataset may be a study's hidden human references, and a visitor who
    # could list it (with piano rolls) could tell those clips from the machines'.
    is_public = models.BooleanField(
        default=False,
        help_text="anyone, logged in or not, may list its pieces and see their piano rolls",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("generation:dataset", args=[self.name])

    @property
    def fractions(self) -> tuple[float, float, float]:
        return (self.train_fraction, self.valid_fraction, self.test_fraction)


class Piece(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="pieces")
    identifier = models.CharField(
        max_length=300, help_text="source path, #tune number in a collection"
    )
    title = models.CharField(max_length=300, blank=True)
    composer = models.CharField(max_length=200, blank=True)
    style = models.CharField(max_length=100, blank=True)
    estimated_key = models.CharField(
        max_length=20, blank=True, help_text="Krumhansl-Schmuckler estimate"
    )
    notated_key = models.CharField(max_length=40, blank=True)
    time_signature = models.CharField(max_length=10)
    tempo_qpm = models.FloatField()
    n_steps = models.PositiveIntegerField(help_text="length in sixteenth-note steps")
    n_notes = models.PositiveIntegerField()
    n_parts = models.PositiveSmallIntegerField()
    part_names = models.JSONField(default=list)
    lowest_pitch = models.PositiveSmallIntegerField()
    highest_pitch = models.PositiveSmallIntegerField()
    split = models.CharField(max_length=5, choices=[(s, s) for s in SPLITS])
    quantized = models.BinaryField(help_text="QuantizedPiece.to_bytes(): the parse happens once")

    class Meta:
        ordering = ["dataset", "identifier"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "identifier"], name="unique_piece_per_dataset"
            )
        ]
        indexes = [models.Index(fields=["dataset", "split"])]

    def __str__(self) -> str:
        return self.title or self.identifier

    def get_absolute_url(self) -> str:
        return reverse("generation:piece", args=[self.dataset.name, self.pk])

    def load(self) -> QuantizedPiece:
        return QuantizedPiece.from_bytes(bytes(self.quantized))

    @property
    def bars(self) -> float:
        numerator, denominator = (int(x) for x in self.time_signature.split("/"))
        steps_per_bar = numerator * 16 / denominator
        return round(self.n_steps / steps_per_bar, 1)

    @property
    def duration_seconds(self) -> float:
        return self.n_steps / 4 * 60.0 / self.tempo_qpm


class RenderProfile(models.Model):
    """Named render settings (generation.audio.rendering.RenderProfile as JSON).

    Every clip of a study should use one profile, so that listeners judge the
    music and not the loudness or the instrument.
    """

    name = models.SlugField(max_length=100, unique=True)
    settings = models.JSONField(
        default=dict, help_text="fields of generation.audio.rendering.RenderProfile"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def as_profile(self):
        return RenderProfileSettings.from_dict(self.settings)


class Rendering(models.Model):
    """Audio for one MIDI file under one profile and SoundFont; the cache key is unique.

    Failed renderings are kept with their error so a batch report can say why.
    """

    class Status(models.TextChoices):
        OK = "ok"
        FAILED = "failed"

    cache_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=6, choices=Status.choices)
    error = models.TextField(blank=True)
    source_label = models.CharField(max_length=500, help_text="file name or piece identifier")
    piece = models.ForeignKey(
        Piece, null=True, blank=True, on_delete=models.SET_NULL, related_name="renderings"
    )
    profile = models.ForeignKey(RenderProfile, on_delete=models.PROTECT, related_name="renderings")
    midi_sha256 = models.CharField(max_length=64)
    midi_file = models.CharField(max_length=300, help_text="path below MEDIA_ROOT")
    soundfont_path = models.CharField(max_length=500)
    soundfont_sha256 = models.CharField(max_length=64)
    files = models.JSONField(default=dict, help_text="format -> path below MEDIA_ROOT")
    duration_seconds = models.FloatField(null=True, blank=True)
    loudness_lufs = models.FloatField(null=True, blank=True, help_text="after normalisation")
    true_peak_dbtp = models.FloatField(null=True, blank=True)
    gain_db = models.FloatField(null=True, blank=True)
    peak_limited = models.BooleanField(default=False)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["piece", "profile", "status"])]

    def __str__(self) -> str:
        return f"{self.source_label} [{self.profile}] {self.status}"

    def browser_formats(self) -> list[str]:
        """Its audio formats in the order a browser should try them."""
        # MP3 first: Chromium misreads the start of libsndfile's Ogg Vorbis files and
        # shows a duration up to a second short; its MP3 duration is exact.
        order = ["mp3", "ogg", "flac", "wav"]
        return sorted(self.files, key=order.index)

    def missing_files(self) -> list[str]:
        """Its audio files (paths below MEDIA_ROOT) that are absent or empty on this machine."""
        return [
            relative
            for relative in self.files.values()
            if not _has_content(Path(settings.MEDIA_ROOT) / relative)
        ]

    def sources(self) -> list[tuple[str, str]]:
        """(media URL, MIME type) for the browser, in the order the browser should try them."""
        return [
            (settings.MEDIA_URL + self.files[fmt], FORMATS[fmt][3])
            for fmt in self.browser_formats()
        ]


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


class Transfer(models.TextChoices):
    """Deep Jammer's two ways to carry a trained model to new data (section 6)."""

    EXTENDED = "extended", "extended training: keep every layer"
    FINE_TUNE = "fine-tune", "fine-tuning: re-initialise the output layer first"


TRANSFER_KINDS = tuple(Transfer.values)


class TrainingRun(BackgroundWork):
    """One training of one model family on one dataset; a web page polls its progress."""

    family = models.CharField(max_length=100)
    config_name = models.CharField(max_length=50, blank=True, help_text="variant, e.g. attention")
    preset = models.CharField(max_length=50, blank=True, help_text="size, e.g. small")
    options = models.JSONField(default=dict, help_text="model options after preset and overrides")
    training = models.JSONField(default=dict, help_text="generation.zoo.trainer.TrainingConfig")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="training_runs")
    extra_datasets = models.ManyToManyField(
        Dataset,
        blank=True,
        related_name="+",
        help_text="more datasets trained on together with the first (e.g. one per style)",
    )
    parent = models.ForeignKey(
        "Checkpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="child_runs",
        help_text="the checkpoint this run continued from (transfer learning)",
    )
    transfer = models.CharField(max_length=10, blank=True, choices=Transfer.choices)
    seed = models.IntegerField(default=0)
    device = models.CharField(
        max_length=20,
        blank=True,
        help_text="where it trains: auto, cpu, cuda, cuda:N or mps; empty: the worker's "
        "EARSHOT_DEVICE",
    )
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    resumed_at = models.JSONField(
        default=list, blank=True, help_text="the steps it went on from after its worker stopped"
    )
    latest_metrics = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="one entry per evaluation")
    info = models.JSONField(default=dict, blank=True, help_text="parameters, sequences")
    stopped_early = models.BooleanField(default=False)
    code_version = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return f"run {self.pk}: {self.label}"

    def get_absolute_url(self) -> str:
        return reverse("generation:run", args=[self.pk])

    @property
    def datasets(self) -> list[Dataset]:
        # .all(), not .order_by(): Dataset's own ordering is by name, and a prefetched
        # extra_datasets (the models page) is used instead of a query per run.
        return [self.dataset, *self.extra_datasets.all()]

    @property
    def label(self) -> str:
        variant = "/".join(part for part in (self.config_name, self.preset) if part)
        names = "+".join(d.name for d in self.datasets) if self.pk else self.dataset.name
        transfer = f", {self.transfer} from checkpoint {self.parent_id}" if self.parent_id else ""
        return f"{self.family}" + (f" ({variant})" if variant else "") + f" on {names}{transfer}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return min(100, round(100 * self.step / self.total_steps)) if self.total_steps else 0


class Checkpoint(models.Model):
    """Weights at one step, with their metrics. The file loads with torch.load + its config."""

    run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.CASCADE, related_name="checkpoints"
    )
    family = models.CharField(max_length=100)
    options = models.JSONField(default=dict)
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="checkpoints"
    )
    split = models.CharField(max_length=5, default="train", help_text="the split it learnt from")
    step = models.PositiveIntegerField()
    metrics = models.JSONField(
        default=dict, help_text='{"valid": {...}, "train": {...}, "test": {...}}'
    )
    file = models.CharField(max_length=500, help_text="path below CHECKPOINT_DIR")
    sha256 = models.CharField(max_length=64)
    seed = models.IntegerField(default=0)
    code_version = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=200, blank=True, help_text="for imported checkpoints")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "step"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="one_checkpoint_per_run_step")
        ]

    def __str__(self) -> str:
        if self.run_id:
            return f"checkpoint {self.pk}: {self.run.label}, step {self.step}"
        return f"checkpoint {self.pk}: {self.label or self.family}"

    def get_absolute_url(self) -> str:
        return reverse("generation:checkpoint", args=[self.pk])

    @property
    def path(self):
        return settings.CHECKPOINT_DIR / self.file

    @property
    def datasets(self) -> list[Dataset]:
        """What it learnt from (and is evaluated on): its run's datasets, else its own."""
        if self.run_id:
            return self.run.datasets
        return [self.dataset] if self.dataset_id else []

    def metric(self, split: str, name: str):
        return (self.metrics.get(split) or {}).get(name)


class SampleSet(models.Model):
    """Samples drawn together (one checkpoint, one setting) or a folder of a system's MIDI files."""

    class Kind(models.TextChoices):
        GENERATED = "generated"
        IMPORTED = "imported", "imported from a folder"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="sample_sets"
    )
    settings = models.JSONField(default=dict, help_text="sampling settings and primer")
    source = models.CharField(max_length=500, blank=True, help_text="folder of imported files")
    description = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("generation:sample-set", args=[self.name])


class Sample(models.Model):
    """One MIDI file of a sample set; with its set's settings and seed it can be drawn again."""

    sample_set = models.ForeignKey(SampleSet, on_delete=models.CASCADE, related_name="samples")
    index = models.PositiveIntegerField(
        help_text="row in the batch; its random stream is (seed, index)"
    )
    label = models.CharField(max_length=300, blank=True, help_text="file name when imported")
    midi_file = models.CharField(max_length=300, help_text="path below SAMPLE_DIR")
    midi_sha256 = models.CharField(max_length=64)
    n_notes = models.PositiveIntegerField()
    n_steps = models.PositiveIntegerField()
    duration_seconds = models.FloatField()
    quantized = models.BinaryField(
        help_text="QuantizedPiece.to_bytes(), for piano rolls and metrics"
    )

    class Meta:
        ordering = ["sample_set", "index"]
        constraints = [
            models.UniqueConstraint(fields=["sample_set", "index"], name="unique_sample_index")
        ]

    def __str__(self) -> str:
        return f"{self.sample_set.name} #{self.index}"

    def get_absolute_url(self) -> str:
        return reverse("generation:sample", args=[self.sample_set.name, self.index])

    @property
    def path(self):
        return settings.SAMPLE_DIR / self.midi_file

    def load(self) -> QuantizedPiece:
        return QuantizedPiece.from_bytes(bytes(self.quantized))


class CrossValidation(models.Model):
    """k-fold cross-validation loss of one configuration (the 6.867 paper's table)."""

    family = models.CharField(max_length=100)
    config_name = models.CharField(max_length=50, blank=True)
    preset = models.CharField(max_length=50, blank=True)
    options = models.JSONField(default=dict)
    training = models.JSONField(default=dict)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="cross_validations")
    k = models.PositiveSmallIntegerField()
    folds = models.JSONField(default=list, help_text="per fold: pieces, held-out metrics")
    mean_loss = models.FloatField(null=True, blank=True)
    sd_loss = models.FloatField(null=True, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.k}-fold CV of {self.family} on {self.dataset.name}"
