from django.db import migrations, models

from postlogin.scrub import scrub


def scrub_recorded_errors(apps, schema_editor):
    """Errors recorded before the scrubber could hold tokens from URLs' query strings: scrub
    them now (by pattern; the tokens themselves are not looked up here). Their code is unknown:
    ``internal_error``."""
    Job = apps.get_model("postlogin", "Job")
    with_error = Job.objects.exclude(last_error="").only("pk", "last_error", "error_code")
    changed = []
    for job in with_error.iterator(chunk_size=500):
        job.last_error = scrub(job.last_error)
        job.error_code = job.error_code or "internal_error"
        changed.append(job)
        if len(changed) == 500:
            Job.objects.bulk_update(changed, ["last_error", "error_code"])
            changed = []
    Job.objects.bulk_update(changed, ["last_error", "error_code"])


class Migration(migrations.Migration):
    dependencies = [
        ("postlogin", "0004_profile_tokens_refused_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="error_code",
            field=models.CharField(blank=True, max_length=32, verbose_name="error code"),
        ),
        migrations.RunPython(scrub_recorded_errors, migrations.RunPython.noop, elidable=True),
    ]
