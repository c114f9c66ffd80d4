from django import forms

from generation.corpora import CORPORA


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
