# Each existing study gets its own random key: a callable default on AddField would give
# every row the same one.

import secrets

from django.db import migrations, models

import studies.models


def give_each_study_a_key(apps, schema_editor):
    Study = apps.get_model("studies", "Study")
    for study in Study.objects.filter(access_key__isnull=True):
        study.access_key = secrets.token_urlsafe(16)
        study.save(update_fields=["access_key"])


class Migration(migrations.Migration):
    dependencies = [("studies", "0002_simulated_listeners")]

    operations = [
        migrations.AddField(
            model_name="study",
            name="access_key",
            field=models.CharField(max_length=32, null=True),
        ),
        migrations.RunPython(give_each_study_a_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="study",
            name="access_key",
            field=models.CharField(
                default=studies.models.new_token,
                help_text="the participants' address /s/<key>/: random, so a study cannot be guessed",
                max_length=32,
                unique=True,
            ),
        ),
    ]
