from django.db import migrations, models


class Migration(migrations.Migration):
    """Every encoding says which face model made it. Those enrolled before were made by dlib's
    ResNet model: SFace cannot read them, and the photos they came from were not kept, so those
    pupils are listed on the register page to be enrolled again."""

    dependencies = [("consent", "0002_pupil_erased_at")]

    operations = [
        migrations.AddField(
            model_name="faceencoding",
            name="model",
            field=models.CharField(default="dlib-resnet-v1", max_length=40),
            preserve_default=False,
        ),
    ]
