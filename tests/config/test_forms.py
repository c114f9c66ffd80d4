"""The site's form layout (config/forms.py, templates/forms/)."""

from django import forms

from config.forms import CheckboxList


class Sample(forms.Form):
    slug = forms.SlugField(help_text="Your address: /studies/<slug>/")
    note = forms.CharField(required=False)
    kind = forms.ChoiceField(choices=[("a", "A")], required=False)
    sets = forms.MultipleChoiceField(choices=[("x", "<b>x</b>")], widget=CheckboxList)


def test_help_text_and_choices_are_text_never_markup():
    html = str(Sample())
    # Help texts may name things a user chose (a model's style names): never HTML.
    assert "/studies/&lt;slug&gt;/" in html and "<slug>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_only_fields_that_can_be_left_empty_say_optional():
    html = str(Sample())
    assert '<label for="id_note">Note <span class="optional">(optional)</span></label>' in html
    assert '<label for="id_slug">Slug</label>' in html
    assert '<label for="id_kind">Kind</label>' in html  # a choice always has a value
