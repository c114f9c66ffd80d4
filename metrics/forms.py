from django import forms

from generation.models import Checkpoint, Dataset, TrainingRun
from studies.models import Study
from studies.selectors import visible_studies


class PowerForm(forms.Form):
    """Inputs for planning how many listeners a study needs (see metrics.statistics.power)."""

    difference = forms.FloatField(
        min_value=0.01, initial=1.0, label="Rating difference to detect (scale points)"
    )
    sd = forms.FloatField(
        min_value=0.01,
        initial=2.0,
        label="SD of a listener's difference between the two systems",
        help_text="from a pilot or a previous study; 1.5-2.5 is common on a 1-10 scale",
    )
    within = forms.BooleanField(
        required=False, initial=True, label="Every listener rates both systems"
    )
    share = forms.FloatField(
        min_value=0.51, max_value=0.99, initial=0.65, label="Preference share to detect"
    )
    trials_per_listener = forms.IntegerField(
        min_value=1, max_value=1000, initial=5, label="Comparisons of the pair per listener"
    )
    icc = forms.FloatField(
        min_value=0,
        max_value=1,
        initial=0.1,
        label="Intraclass correlation of a listener's choices",
    )
    power = forms.FloatField(min_value=0.5, max_value=0.99, initial=0.8)
    alpha = forms.FloatField(min_value=0.001, max_value=0.2, initial=0.05)


SPLIT_CHOICES = [("test", "test"), ("valid", "validation"), ("train", "training"), ("all", "all")]
SIMULATED_CHOICES = [
    ("auto", "only if the study has no real listeners"),
    ("yes", "yes"),
    ("no", "no"),
]


class ComparisonForm(forms.Form):
    """Which checkpoints, against which reference split, with which study's listeners."""

    checkpoints = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    run = forms.ModelChoiceField(
        queryset=None,
        required=False,
        help_text="adds every checkpoint of this run",
        label="All checkpoints of run",
    )
    dataset = forms.ModelChoiceField(
        queryset=None, required=False, label="Reference dataset", to_field_name="name"
    )
    split = forms.ChoiceField(choices=SPLIT_CHOICES, initial="test", required=False)
    study = forms.ModelChoiceField(
        queryset=None, required=False, label="Listener results from", to_field_name="slug"
    )
    simulated = forms.ChoiceField(
        choices=SIMULATED_CHOICES,
        initial="auto",
        required=False,
        label="Include simulated listeners",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["checkpoints"].queryset = Checkpoint.objects.select_related("run").order_by(
            "family", "run_id", "step"
        )
        self.fields["checkpoints"].label_from_instance = _checkpoint_choice_label
        self.fields["run"].queryset = TrainingRun.objects.filter(
            checkpoints__isnull=False
        ).distinct()
        self.fields["dataset"].queryset = Dataset.objects.all()
        # Only the studies this experimenter may see can lend their listeners.
        studies = Study.objects.all() if user is None else visible_studies(user)
        self.fields["study"].queryset = studies.order_by("-created_at")


def _checkpoint_choice_label(checkpoint) -> str:
    loss = checkpoint.metric("valid", "loss")
    where = checkpoint.run.label if checkpoint.run_id else (checkpoint.label or checkpoint.family)
    text = f"{where}, step {checkpoint.step}"
    if loss is not None:
        text += f" (validation loss {loss:.3f})"
    return text
