"""TEST FIXTURE (standin-broken, the 6.2-broken stand-in): a migration that fails half-way.

Not atomic, as a real long migration of GlitchTip may be: what it did before it raised stays (a new
table with a row, a row added to an existing table), the migration is not recorded as applied, and
manage.py migrate exits non-zero. A rollback must leave none of it behind."""

from django.db import migrations


def fail_half_way(apps, schema_editor):
    raise RuntimeError("test fixture: 0002_test_fixture_fails_half_way fails half-way on purpose")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("events", "0001_initial")]

    operations = [
        migrations.RunSQL("CREATE TABLE events_brokenupgrade (id serial PRIMARY KEY, note text NOT NULL)"),
        migrations.RunSQL("INSERT INTO events_brokenupgrade (note) VALUES ('written by the broken migration')"),
        migrations.RunSQL("INSERT INTO events_maintenancerun (kind, detail, ran_at) "
                          "VALUES ('broken-upgrade', 'written by the broken migration', now())"),
        migrations.RunPython(fail_half_way, migrations.RunPython.noop),
    ]
