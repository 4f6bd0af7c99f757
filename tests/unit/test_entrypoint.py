# -*- coding: utf-8 -*-
"""entrypoint.py: what must be true before supervisord starts, and which programs it is given."""

from __future__ import annotations

import os

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import entrypoint


def test_only_this_containers_programs_are_linked_for_supervisord(tmp_path):
    available = tmp_path / "conf.d"
    available.mkdir()
    for name in ("postgres", "redis", "migrate", "web", "worker", "scheduler"):
        (available / ("%s.conf" % name)).write_text("[program:%s]\n" % name, encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    entrypoint.link_programs({"paths": {"run": str(run)}, "programs": {"web": {}, "scheduler": {}}},
                             available=str(available))
    linked = sorted(os.listdir(run / "programs"))
    assert linked == ["scheduler.conf", "web.conf"]
    assert (run / "programs" / "web.conf").read_text(encoding="utf-8") == "[program:web]\n"


def test_the_database_password_is_required_embedded_or_external():
    settings = {"programs": {"web": {}}}
    assert entrypoint.missing_secrets(settings, {"SECRET_KEY": "k"}) == ["AIO_DB_PASSWORD"]
    assert entrypoint.missing_secrets(settings, {"SECRET_KEY": "k", "AIO_DB_PASSWORD": "p"}) == []
