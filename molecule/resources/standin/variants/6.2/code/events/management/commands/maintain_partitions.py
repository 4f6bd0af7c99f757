from events.management.commands.pgpartition import Command as PgPartition


class Command(PgPartition):
    help = ("Stand-in for GlitchTip 6.x's partition maintenance (maintain_partitions): creates the "
            "coming partitions; no options.")

    def add_arguments(self, parser):
        pass

    def handle(self, *args, **options):
        return super().handle(*args, dry=False, yes=True)
