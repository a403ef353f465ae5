from django.db import migrations, models

CONDITIONAL_NORM = {
    "verbose_name": "conditional batch norm",
    "help_text": "Let the digit set the gain and bias of every batch norm in the generator.",
}
AUXILIARY_CLASSIFIER = {
    "help_text": "Give the critic a head that classifies the digit; the generator is also trained to make that head "
                 "recognise the digit it was asked for.",
}


class Migration(migrations.Migration):
    """Conditional batch norm and the critic's auxiliary classifier as run options.

    Runs created before this migration trained without either, so their rows get False.
    New runs default to the shipped model's settings: both on, 6,000 steps.
    """

    dependencies = [("training", "0002_fashion_mnist")]

    operations = [
        migrations.AddField(model_name="trainingrun", name="conditional_norm",
                            field=models.BooleanField(default=False, **CONDITIONAL_NORM)),
        migrations.AddField(model_name="trainingrun", name="auxiliary_classifier",
                            field=models.BooleanField(default=False, **AUXILIARY_CLASSIFIER)),
        migrations.AlterField(model_name="trainingrun", name="conditional_norm",
                              field=models.BooleanField(default=True, **CONDITIONAL_NORM)),
        migrations.AlterField(model_name="trainingrun", name="auxiliary_classifier",
                              field=models.BooleanField(default=True, **AUXILIARY_CLASSIFIER)),
        migrations.AlterField(
            model_name="trainingrun", name="max_steps",
            field=models.PositiveIntegerField(default=6000, help_text="Generator steps to train for; 0 means train "
                                              "for the number of epochs instead."),
        ),
    ]
