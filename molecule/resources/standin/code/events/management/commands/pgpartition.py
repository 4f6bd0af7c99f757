from django.core.management.base import BaseCommand
from django.db import connection

from events.models import MaintenanceRun


class Command(BaseCommand):
    help = "Stand-in for django-postgres-extra's partition maintenance (pgpartition)."

    def add_arguments(self, parser):
        parser.add_argument("--yes", "-y", action="store_true", help="Apply without asking.")

    def handle(self, *args, **options):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), version()")
            database, version = cursor.fetchone()
        MaintenanceRun.objects.create(
            kind="partition",
            detail=f"database={database} server={version.split(',')[0]} yes={options['yes']}",
        )
        self.stdout.write("partitions: ok")
