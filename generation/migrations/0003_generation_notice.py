from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("generation", "0002_seed_catalogue_and_templates")]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="notice",
            field=models.CharField(blank=True, max_length=300),
        ),
    ]
