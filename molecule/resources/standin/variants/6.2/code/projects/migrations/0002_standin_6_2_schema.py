"""TEST FIXTURE (the 6.2 stand-in): a schema change 5.2 does not have, as every GlitchTip 6 release has
some. An upgrade from 5.2 must apply it (molecule/pgupgrade looks for it in django_migrations and for its
table); the app does not use the table. Plain SQL, so the app's models stay those of 5.2."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("projects", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE TABLE projects_projectstat (id bigserial PRIMARY KEY, project_id bigint NOT NULL, "
            "day date NOT NULL, events integer NOT NULL DEFAULT 0, UNIQUE (project_id, day))",
            "DROP TABLE projects_projectstat"),
    ]
