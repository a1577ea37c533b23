from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class SchoolConfig(AppConfig):
    """The base every other app may use, and which uses none of them: the school's roles and
    people, its notices and notifications, and its configuration (this package's __init__)."""

    name = "config.school"
    label = "school"
    verbose_name = "School"

    def ready(self):
        from config.school import wall
        from config.school.roles import ensure_groups
        from config.school.schools import follow_the_environment

        post_migrate.connect(ensure_groups, sender=self)
        post_migrate.connect(follow_the_environment, sender=self)
        post_migrate.connect(wall.build_after_migrate, sender=self)
        checks.register(wall.check, checks.Tags.database)
