from django import template
from django.utils.html import format_html, format_html_join

from studies.text import paragraphs as text_paragraphs

register = template.Library()


@register.filter
def paragraphs(text: str):
    """An experimenter's text as HTML paragraphs, reflowed (see studies.text.paragraphs);
    escaped, since experimenters' texts are not trusted markup."""
    return format_html_join(
        "\n",
        "<p>{}</p>",
        ((format_html_lines(paragraph),) for paragraph in text_paragraphs(text or "")),
    )


def format_html_lines(paragraph: str):
    lines = paragraph.split("\n")
    if len(lines) == 1:
        return lines[0]
    return format_html_join(format_html("<br>"), "{}", ((line,) for line in lines))
