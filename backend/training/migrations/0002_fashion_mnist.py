from django.db import migrations, models


class Migration(migrations.Migration):
    """Fashion-MNIST: a dataset per model version, and one active version per dataset."""

    dependencies = [("training", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="trainingrun", name="dataset",
            field=models.CharField(choices=[("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST")], default="mnist",
                                   max_length=16),
        ),
        migrations.AddField(
            model_name="modelversion", name="dataset",
            field=models.CharField(choices=[("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST")], db_index=True,
                                   default="mnist", max_length=16),
        ),
        migrations.RemoveConstraint(model_name="modelversion", name="one_active_version"),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(condition=models.Q(("is_active", True)), fields=("dataset",),
                                               name="one_active_version_per_dataset"),
        ),
    ]
