from django import forms


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
