from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="kind",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AlterField(
            model_name="announcement",
            name="kind",
            field=models.CharField(
                choices=[("maintenance", "Maintenance"), ("incident", "Incident"), ("release", "New release")],
                max_length=12, verbose_name="kind"),
        ),
    ]
