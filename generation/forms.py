from django import forms

from config.forms import CheckboxList
from generation.models import Dataset, Piece, Transfer
from generation.music.corpora import CORPORA
from generation.zoo.piano_roll_base import StyleTable, parse_style_mixture

MAX_MIDI_BYTES = 2 * 1024 * 1024  # a long symphony is ~300 KB; anything near this is not music
MAX_MIDI_FILES = 500


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleMidiField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise forms.ValidationError("Choose one or more MIDI files.")
        if len(files) > MAX_MIDI_FILES:
            raise forms.ValidationError(f"At most {MAX_MIDI_FILES} files at once.")
        cleaned = [super(MultipleMidiField, self).clean(upload, initial) for upload in files]
        for upload in cleaned:
            if not upload.name.lower().endswith((".mid", ".midi")):
                raise forms.ValidationError(f"{upload.name}: not a .mid or .midi file.")
            if upload.size > MAX_MIDI_BYTES:
                raise forms.ValidationError(f"{upload.name}: larger than 2 MB, not a MIDI file.")
        return cleaned


class SampleUploadForm(forms.Form):
    """Another model's samples, uploaded from the browser (import_samples does a folder)."""

    system = forms.SlugField(
        max_length=100,
        label="System name",
        help_text="The sample set's name, e.g. my-transformer-step-20k.",
    )
    files = MultipleMidiField(
        label="MIDI files", help_text="The model's output, one file per sample."
    )
    description = forms.CharField(required=False, max_length=500)


class ImportCorpusForm(forms.Form):
    corpus = forms.ChoiceField(
        choices=[(name, spec.title) for name, spec in sorted(CORPORA.items())]
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        help_text="Leave empty to import every piece.",
    )


def _model_choices() -> list[tuple[str, str]]:
    from generation.services.training import families

    choices = []
    for family in families().values():
        for config in family.configs or {"": {}}:
            value = f"{family.name}:{config}"
            choices.append((value, f"{family.title} - {config}" if config else family.title))
    return choices


PRESET_LABELS = {
    "tiny": "tiny (seconds)",
    "small": "small (CPU minutes)",
    "paper": "paper (the seed's sizes)",
}


def _preset_choices() -> list[tuple[str, str]]:
    from generation.services.training import families

    names = {name for family in families().values() for name in (family.presets or {})}
    known = [name for name in PRESET_LABELS if name in names]
    return [(name, PRESET_LABELS.get(name, name)) for name in known + sorted(names - set(known))]


def _dataset_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Dataset.objects.all(), to_field_name="name", empty_label="Choose a dataset"
    )


def _more_datasets_field(help_text: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.all(),
        to_field_name="name",
        required=False,
        widget=CheckboxList,
        label="More datasets",
        help_text=help_text,
    )


DEVICE_CHOICES = [
    ("", "The worker's default"),
    ("auto", "Best available"),
    ("cpu", "CPU"),
    ("cuda", "CUDA GPU"),
    ("mps", "Apple GPU (MPS)"),
]


def _device_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=DEVICE_CHOICES,
        required=False,
        label="Device",
        help_text="Where the job worker runs the model. Its default is its EARSHOT_DEVICE, "
        "else the best it has (CUDA, then Apple MPS, then the CPU). A worker without the "
        "device asked for says so on the job's page.",
    )


class TrainForm(forms.Form):
    model = forms.ChoiceField(choices=_model_choices, help_text="Family and variant.")
    preset = forms.ChoiceField(
        choices=_preset_choices,
        initial="small",
        help_text="Not every family has every size; the run says so if this one lacks it.",
    )
    dataset = _dataset_field()
    more_datasets = _more_datasets_field(
        "Trained on together with the first; DeepJ learns one style per dataset."
    )
    steps = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text="Leave empty for the preset's number.",
    )
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)
    device = _device_field()

    def clean_model(self) -> tuple[str, str]:
        family, _, config = self.cleaned_data["model"].partition(":")
        return family, config


class GenerateForm(forms.Form):
    n = forms.IntegerField(initial=10, min_value=1, max_value=1000, label="Samples")
    bars = forms.FloatField(
        initial=8, min_value=0.25, max_value=256, help_text="4/4 bars after the primer."
    )
    temperature = forms.FloatField(initial=1.0, min_value=0.05, max_value=5.0)
    top_k = forms.IntegerField(
        required=False,
        min_value=1,
        label="Top-k",
        help_text="Sample among the k likeliest events only; empty: among all.",
    )
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)
    tempo_qpm = forms.FloatField(
        initial=100, min_value=20, max_value=400, label="Tempo (quarter notes per minute)"
    )
    program = forms.IntegerField(
        initial=0, min_value=0, max_value=127, label="General MIDI program"
    )
    primer_piece = forms.ModelChoiceField(
        queryset=Piece.objects.none(),
        required=False,
        empty_label="No primer",
        label="Primer piece",
        help_text="Open each sample with the first bars of a held-out piece.",
    )
    primer_bars = forms.FloatField(initial=2, min_value=0.25, max_value=32, label="Primer bars")
    style = forms.CharField(required=False, max_length=500)  # help names the model's styles
    adaptive_temperature = forms.BooleanField(
        required=False,
        initial=True,
        label="Adaptive temperature",
        help_text="Raise the temperature through silences (DeepJ), back to normal on any sound.",
    )
    device = _device_field()

    def __init__(
        self,
        *args,
        dataset: Dataset | None = None,
        styles: list[str] | None = None,
        polyphonic: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.styles = styles or []
        if not self.styles:
            del self.fields["style"]
        else:
            self.fields["style"].help_text = (
                "Style mixture over "
                + ", ".join(self.styles)
                + (
                    ", e.g. "
                    + ",".join(f"{name}={1 / len(self.styles):.2g}" for name in self.styles)
                    + " (empty: every style equally)"
                )
            )
        if not polyphonic:
            del self.fields["adaptive_temperature"]
        if dataset is not None:
            self.fields["primer_piece"].queryset = Piece.objects.filter(
                dataset=dataset, split__in=["valid", "test"]
            ).defer("quantized")

    def clean_style(self) -> dict | None:
        text = self.cleaned_data.get("style", "").strip()
        if not text:
            return None
        try:
            mixture = parse_style_mixture(text)
            StyleTable(self.styles).mixture(mixture)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return mixture

    def sampling_settings(self) -> dict:
        data = self.cleaned_data
        keys = ("n", "bars", "temperature", "top_k", "seed", "tempo_qpm", "program")
        settings = {key: data[key] for key in keys}
        if data.get("style"):
            settings["style"] = data["style"]
        if "adaptive_temperature" in self.fields:
            settings["adaptive_temperature"] = data["adaptive_temperature"]
        return settings


class ContinueTrainingForm(forms.Form):
    """Transfer learning from a checkpoint page (Deep Jammer section 6)."""

    dataset = _dataset_field()
    more_datasets = _more_datasets_field("Learnt from together with the first.")
    transfer = forms.ChoiceField(choices=Transfer.choices)
    steps = forms.IntegerField(min_value=1, max_value=1_000_000, initial=300)
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)
