from django.db import migrations, models


class Migration(migrations.Migration):
    """bfloat16 autocast as a run option, and 12,000 steps as the default length.

    Existing runs trained in float32, which stays the default precision. The shipped model
    now trains for 12,000 steps, so new runs default to that.
    """

    dependencies = [("training", "0003_generator_options")]

    operations = [
        migrations.AddField(
            model_name="trainingrun", name="precision",
            field=models.CharField(
                choices=[("float32", "float32"),
                         ("bfloat16", "bfloat16 autocast (1.9x faster per step on a CPU with AMX)")],
                default="float32", max_length=8,
                help_text="Number format of the forward passes; weights and optimiser state stay float32."),
        ),
        migrations.AlterField(
            model_name="trainingrun", name="max_steps",
            field=models.PositiveIntegerField(default=12000, help_text="Generator steps to train for; 0 means train "
                                              "for the number of epochs instead."),
        ),
    ]
