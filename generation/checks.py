from django.conf import settings
from django.core.checks import Warning, register


@register()
def soundfont_present(app_configs, **kwargs):
    if settings.SOUNDFONT_PATH.is_file():
        return []
    return [
        Warning(
            f"No SoundFont at {settings.SOUNDFONT_PATH}: audio rendering will fail.",
            hint="Run `make install` (installs fluid-soundfont-gm) or set EARSHOT_SOUNDFONT.",
            id="earshot.W001",
        )
    ]
