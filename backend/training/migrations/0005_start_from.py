import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """A run may start from a model version or the default checkpoint, with a critic warm-up.

    Existing runs started from random weights, which is what the defaults (no starting model, no
    warm-up) describe.
    """

    dependencies = [
        ('training', '0004_trainingrun_precision'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='critic_warmup',
            field=models.PositiveIntegerField(default=0, help_text='Critic iterations against the frozen generator before the first generator step, so that a new critic has learned before it guides a trained generator. 2,000 took about 2 minutes on 2 CPU cores.', verbose_name='critic warm-up'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='start_from',
            field=models.ForeignKey(blank=True, help_text="Train this version's generator further instead of starting from random weights. The critic starts afresh, so set critic warm-up too. The model fields must match the version's.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='continued_by', to='training.modelversion', verbose_name='start from version'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='start_from_default',
            field=models.BooleanField(default=False, help_text="Train the dataset's default checkpoint further (the shipped weights unless GAN_MODEL_PATH or GAN_FASHION_MODEL_PATH names another). Leave the version above empty.", verbose_name='start from the default model'),
        ),
    ]
