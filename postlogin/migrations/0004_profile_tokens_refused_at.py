from django.db import migrations, models
from django.utils import timezone


def refused_now(apps, schema_editor):
    """Profiles that needed a login still do: their tokens count as refused now."""
    Profile = apps.get_model("postlogin", "Profile")
    Profile.objects.filter(needs_login=True).update(tokens_refused_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("postlogin", "0003_profile_sync"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="tokens_refused_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="tokens refused at"),
        ),
        migrations.RunPython(refused_now, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name="profile",
            name="needs_login",
        ),
    ]
