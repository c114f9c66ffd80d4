"""How every form of the site is laid out: a label above its field, help text under the label,
errors beside the field they are about, and choices of several things as a list of
checkboxes rather than a multi-select that needs Ctrl-click."""

from django import forms
from django.forms.renderers import TemplatesSetting


class SiteFormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


class CheckboxList(forms.CheckboxSelectMultiple):
    """Several choices as ticked boxes; a long list scrolls inside a box of its own and gets a
    filter field (static/site/pick.js). forms/field.html gives it its box."""
