import datetime

from django.core.management.base import BaseCommand
from django.db import connection

from events.models import MaintenanceRun


def month_partitions(today, ahead=1):
    """Names of the monthly partitions that must exist: this month and the next ``ahead``."""
    names = []
    year, month = today.year, today.month
    for _ in range(ahead + 1):
        names.append("events_event_p%04d_%02d" % (year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return names


class Command(BaseCommand):
    help = ("Stand-in for django-postgres-extra's partition maintenance (pgpartition): the same options "
            "(--dry, --yes) and the same answers ('Nothing to be done.' / 'Operations applied.').")

    def add_arguments(self, parser):
        parser.add_argument("--dry", "-d", action="store_true", help="Simulate and don't apply anything.")
        parser.add_argument("--yes", "-y", action="store_true", help="Apply without asking.")

    def handle(self, *args, **options):
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            existing = {row[0] for row in cursor.fetchall()}
            missing = [name for name in month_partitions(datetime.date.today()) if name not in existing]
            if not missing:
                self.stdout.write("Nothing to be done.")
                return
            for name in missing:
                self.stdout.write("  + %s" % name)
            if options["dry"]:
                return
            if not options["yes"]:
                answer = input("Do you want to proceed? (y/N) ")
                if answer.strip().lower() not in ("y", "yes"):
                    self.stdout.write("Operation aborted.")
                    return
            for name in missing:
                cursor.execute('CREATE TABLE "%s" (LIKE events_event INCLUDING ALL)' % name)
            cursor.execute("SELECT current_database(), version()")
            database, version = cursor.fetchone()
        MaintenanceRun.objects.create(
            kind="partition",
            detail="database=%s server=%s created=%s" % (database, version.split(",")[0], ",".join(missing)),
        )
        self.stdout.write("Operations applied.")
