from django import forms
from django.utils.text import slugify

from config.forms import CheckboxList
from generation.models import Checkpoint, Dataset, RenderProfile, SampleSet
from studies.design import LANGUAGES, BlockKind, RatingScale, SpecError, StudySpec, SystemSpec
from studies.services import sample_set_style


class StudyBuilderForm(forms.Form):
    """The builder's choices, turned into the same StudySpec a study.toml file gives."""

    title = forms.CharField(
        max_length=200,
        label="Name",
        help_text="Your name for the study, in lists and reports; participants never see it.",
    )
    public_title = forms.CharField(
        max_length=200,
        required=False,
        initial="A listening study",
        label="Title participants see",
        help_text="Name no system or model here: it would tell listeners what they compare. "
        "Empty: the name.",
    )
    language = forms.ChoiceField(
        choices=list(LANGUAGES.items()),
        initial="en",
        required=False,
        label="Participants' language",
        help_text="earshot's own words on the participant pages (buttons, questions, "
        "messages). Write the title, instructions and consent in it too.",
    )
    slug = forms.SlugField(
        max_length=100,
        help_text="Your address for the study: /studies/<slug>/ (participants get a random link).",
    )
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), initial=StudySpec.instructions
    )
    consent = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), initial=StudySpec.consent)
    sample_sets = forms.ModelMultipleChoiceField(
        queryset=SampleSet.objects.order_by("name"),
        required=False,
        to_field_name="name",
        widget=CheckboxList,
        help_text="Samples already drawn; each set is one system.",
    )
    checkpoints = forms.ModelMultipleChoiceField(
        queryset=Checkpoint.objects.select_related("run").order_by("-pk"),
        required=False,
        widget=CheckboxList,
        help_text="Draw new samples from these checkpoints (one system each).",
    )
    generated_datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.all(),
        required=False,
        to_field_name="name",
        widget=CheckboxList,
        label="Music generated elsewhere",
        help_text="Datasets of machine-made MIDI (an imported folder); each is one generated "
        "system, drawn from all its pieces.",
    )
    temperature = forms.FloatField(initial=1.0, min_value=0.05, max_value=5.0)
    bars = forms.FloatField(initial=8, min_value=1, max_value=64)
    human_datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.all(),
        required=False,
        to_field_name="name",
        widget=CheckboxList,
        label="Human references",
        help_text="Pieces of these datasets, hidden among the generated.",
    )
    human_split = forms.ChoiceField(
        choices=[("test", "test"), ("valid", "valid"), ("train", "train"), ("all", "all")],
        initial="test",
    )
    clips_per_system = forms.IntegerField(initial=4, min_value=1, max_value=100)
    clip_seconds = forms.FloatField(initial=20, min_value=1, max_value=600)
    render_profile = forms.ModelChoiceField(
        queryset=RenderProfile.objects.all(),
        required=False,
        to_field_name="name",
        empty_label="Default sound, cut to the clip length",
        help_text="A saved render profile brings its own clip length.",
    )
    seed = forms.IntegerField(initial=0)

    rating = forms.BooleanField(required=False, initial=True, label="Rating block")
    scale = forms.ChoiceField(
        choices=[(RatingScale.TEN, "1-10 (Deep Jammer)"), (RatingScale.MOS, "MOS 1-5 (labelled)")]
    )
    ask_human = forms.BooleanField(
        required=False, initial=True, label='Also ask "could a human have composed this?"'
    )
    turing = forms.BooleanField(required=False, label="Turing block: human or machine?")
    ask_confidence = forms.BooleanField(required=False, label="Ask how sure")
    pairwise = forms.BooleanField(required=False, label="Pairwise preference block")
    allow_no_preference = forms.BooleanField(required=False, label='Offer "no preference"')
    adaptive = forms.BooleanField(
        required=False,
        label="Adaptive pairs",
        help_text="Give out the pair whose answer teaches most about the ranking (every pair "
        "keeps a floor share); needs fewer answers to rank the systems.",
    )
    style = forms.BooleanField(required=False, label="Style identification block")
    mushra = forms.BooleanField(
        required=False,
        label="MUSHRA block: every system on one page, rated 0-100",
        help_text="Against the first human reference, shown openly and hidden among the "
        "rated clips; listeners who rate the hidden one below 90 on more than 15% of pages "
        "are excluded (ITU-R BS.1534).",
    )
    mushra_anchor = forms.ModelChoiceField(
        queryset=SampleSet.objects.all(),
        required=False,
        to_field_name="name",
        empty_label="No anchor",
        label="Low anchor",
        help_text="A chosen sample set rated on every page as the low anchor (a Markov "
        "baseline, say).",
    )
    abx = forms.BooleanField(
        required=False,
        label="ABX block: can listeners tell each system from the human reference?",
        help_text="A and B from the reference and a system, X another clip of one of them.",
    )
    trials_per_block = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Main trials per participant and block; empty: every clip.",
    )
    instructed_checks = forms.IntegerField(
        initial=1, min_value=0, max_value=10, help_text="Attention checks per block."
    )
    repeats = forms.IntegerField(
        initial=1, min_value=0, max_value=10, help_text="Clips heard twice per block."
    )

    headphone_screen = forms.BooleanField(required=False, label="Headphone screen (Woods 2017)")
    exclude_failed_checks = forms.BooleanField(
        required=False, initial=True, label="Exclude listeners who fail the screen or a check"
    )
    completion_code = forms.CharField(
        max_length=50, required=False, help_text="Empty: one is generated."
    )
    redirect_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Return address",
        help_text="Where the completion page sends participants back to (Prolific's link).",
    )
    assignment_expiry_minutes = forms.IntegerField(
        initial=60,
        min_value=1,
        label="Assignment expiry (minutes)",
        help_text="An unfinished assignment stops counting for balance after this long without "
        "an answer.",
    )
    answer_timing = forms.ChoiceField(
        choices=[
            ("refuse", "Refuse it and ask the listener to listen first"),
            ("flag", "Store it, flag it, and exclude the listener as declared"),
        ],
        initial="refuse",
        required=False,
        label="An answer sent before its clips could have been heard",
    )
    speeder_floor_seconds = forms.FloatField(
        initial=0.5,
        required=False,
        min_value=0,
        max_value=60,
        label="Speeder floor (seconds)",
        help_text="Flag listeners whose median answer comes sooner than this after the clips end.",
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.spec = StudySpec.from_dict(self._spec_dict(data))
        except SpecError as error:
            raise forms.ValidationError(str(error)) from None
        return data

    def _spec_dict(self, data) -> dict:
        systems = []
        for sample_set in data["sample_sets"]:
            systems.append(
                SystemSpec(
                    slugify(sample_set.name),
                    sample_set=sample_set.name,
                    style=sample_set_style(sample_set),
                )
            )
        for checkpoint in data["checkpoints"]:
            systems.append(
                SystemSpec(
                    f"checkpoint-{checkpoint.pk}",
                    checkpoint=checkpoint.pk,
                    sampling={"temperature": data["temperature"], "bars": data["bars"]},
                )
            )
        for dataset in data["generated_datasets"]:
            systems.append(
                SystemSpec(slugify(dataset.name), dataset=dataset.name, style=dataset.style)
            )
        for dataset in data["human_datasets"]:
            systems.append(
                SystemSpec(
                    f"human-{dataset.name}",
                    human=dataset.name,
                    split=data["human_split"],
                    style=dataset.style or dataset.name,
                )
            )
        common = {
            "trials": data["trials_per_block"],
            "instructed_checks": data["instructed_checks"],
            "repeats": data["repeats"],
        }
        blocks = []
        if data["rating"]:
            blocks.append(
                {
                    "kind": BlockKind.RATING,
                    "scale": data["scale"],
                    "ask_human": data["ask_human"],
                    **common,
                }
            )
        if data["turing"]:
            blocks.append(
                {"kind": BlockKind.TURING, "ask_confidence": data["ask_confidence"], **common}
            )
        if data["pairwise"]:
            blocks.append(
                {
                    "kind": BlockKind.PAIRWISE,
                    "allow_no_preference": data["allow_no_preference"],
                    "adaptive": data["adaptive"],
                    **common,
                }
            )
        if data["style"]:
            styled = [s.name for s in systems if s.style]
            blocks.append({"kind": BlockKind.STYLE, "systems": styled, **common})
        humans = [s.name for s in systems if s.is_human]
        if data["mushra"]:
            anchor = data["mushra_anchor"]
            if anchor and anchor not in data["sample_sets"]:
                raise SpecError("the low anchor must be one of the sample sets chosen above")
            blocks.append({
                "kind": BlockKind.MUSHRA, "trials": data["trials_per_block"],
                "reference": humans[0] if humans else "",
                "anchor": slugify(anchor.name) if anchor else "",
            })  # fmt: skip
        elif data["mushra_anchor"]:
            raise SpecError("a low anchor belongs to a MUSHRA block: tick it, or choose no anchor")
        if data["abx"]:
            blocks.append({
                "kind": BlockKind.ABX, "trials": data["trials_per_block"],
                "reference": humans[0] if humans else "",
                "instructed_checks": data["instructed_checks"],
            })  # fmt: skip
        fields = (
            "title", "public_title", "language", "slug", "instructions", "consent", "clips_per_system", "clip_seconds",
            "seed", "headphone_screen", "exclude_failed_checks", "completion_code",
            "redirect_url", "assignment_expiry_minutes", "answer_timing",
            "speeder_floor_seconds",
        )  # fmt: skip
        spec = {name: data[name] for name in fields if data[name] not in (None, "")}
        if data["render_profile"]:
            spec["render_profile"] = data["render_profile"].name
        return {
            **spec,
            "systems": [system.to_dict() for system in systems],
            "blocks": blocks,
        }


class SpecUploadForm(forms.Form):
    spec = forms.CharField(
        label="study.toml",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text="The same file manage.py create_study --from reads.",
    )

    def clean_spec(self):
        try:
            self.study_spec = StudySpec.from_toml(self.cleaned_data["spec"])
        except SpecError as error:
            raise forms.ValidationError(str(error)) from None
        return self.cleaned_data["spec"]


class CloneForm(forms.Form):
    system = forms.ChoiceField(help_text="the generated system whose model is swapped")
    checkpoint = forms.ModelChoiceField(queryset=Checkpoint.objects.order_by("-pk"))
    slug = forms.SlugField(max_length=100)
    title = forms.CharField(max_length=200)

    def __init__(self, *args, study, **kwargs):
        super().__init__(*args, **kwargs)
        names = study.systems.exclude(kind="human").values_list("name", flat=True)
        self.fields["system"].choices = [(n, n) for n in names]
        self.fields["slug"].initial = f"{study.slug}-clone"
        self.fields["title"].initial = f"{study.title} (clone)"


class AnswersUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV or JSON in the export's format")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".json")):
            raise forms.ValidationError("Choose a .csv or .json file (as the export makes).")
        return upload
