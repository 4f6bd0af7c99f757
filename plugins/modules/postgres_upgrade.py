#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: postgres_upgrade
short_description: Move the embedded PostgreSQL cluster to the major of a new image by dump and restore, with a way back
description:
  - Each image carries one PostgreSQL major (its Debian release's, bookworm 15, trixie 17), so a new base image can
    bring a server that cannot open the data directory's cluster. This module is the deploy's answer, in steps the
    role C(glitchtip.aio.container) runs around the container's replacement (roles/container/tasks/postgres_upgrade.yml).
  - O(step=plan) (read-only, also in check mode) compares the cluster's C(PG_VERSION) under O(data_dir) with the
    major the new image records in C(/etc/glitchtip-aio/carries.json), or, when O(image) is not built yet (check
    mode), the major the base image's Debian release gives. It returns RV(action) C(none), C(upgrade) or C(refuse)
    and says so in words (C(PostgreSQL 15 → 17, will upgrade by dump and restore)); a refusal (a newer cluster than the
    image, O(auto_upgrade=false), an interrupted upgrade's record) fails before anything changes.
  - O(step=prepare) takes a verified backup in the old, still running container (C(aio backup)), writes the
    upgrade's record (C(<data_dir>/postgres/aio-upgrade.json)), sets the old container aside as
    M(glitchtip.aio.set_aside) does (stopped, restart policy C(no) so a restart of the Docker engine never starts
    it beside the new one on the same data directory, renamed C(<container>-pg<major>-old); the way back keeps its
    image and settings), moves the old cluster aside intact
    (C(<data_dir>/postgres/data-pg<major>-<time>)) and copies the Redis data beside it. While the record exists a
    new container configures web, worker and scheduler without starting them, so no empty GlitchTip answers, and its
    migrate program, on the still empty database, creates the role and the database but holds the migrations.
  - O(step=finish) waits for the new container's PostgreSQL and (held) migrate program, restores the backup
    (C(aio restore), which then runs migrate on the restored database, so a new C(glitchtip_version) migrates the
    old version's data, starts the app and waits until healthy), deletes the record and the old container, and
    reports versions, downtime and where the old cluster and the backup are.
  - O(step=rollback) undoes whatever the record says was done, in reverse; the new container removed, its cluster
    deleted, the old cluster and Redis data moved back, the old container renamed back, given its restart policy
    again and started, and waited for until healthy.
  - The waits until healthy are the deploy's, as M(glitchtip.aio.health) waits, for supervisor, postgres, redis
    and, where the container's roles serve it, web; a container that stops or restarts meanwhile ends the wait at
    once, with the watchdog's stop reason from C(<data_dir>/logs) when it wrote one.
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details:
      - O(step=plan) reads the data directory and the image (a container created from the image or the base image,
        never started, and removed at once, to read one file) and predicts RV(action); it changes nothing, in check
        mode or not.
      - The other steps change nothing in check mode and report what they would do, as C(changed).
  diff_mode:
    support: full
    details: O(step=plan) returns the cluster before and after.
  idempotent:
    support: partial
    details: O(step=plan) never changes anything. The other steps act on the record O(step=prepare) writes and
      fail without it.
options:
  step:
    description: The step to run (see the description).
    type: str
    required: true
    choices: [plan, prepare, finish, rollback]
  data_dir:
    description: The host's data directory (C(glitchtip_data_dir)); the cluster is C(<data_dir>/postgres/data).
    type: path
    required: true
  image:
    description: The new AIO image (name:tag). Required with O(step=plan).
    type: str
  base_image:
    description: The base image the new image is built from; read with O(step=plan) when O(image) does not exist.
    type: str
  auto_upgrade:
    description: Upgrade automatically (C(glitchtip_postgres_auto_upgrade)); V(false) makes an upgrade a refusal.
    type: bool
    default: true
  stop_timeout:
    description: Seconds Docker gives the old container to stop.
    type: int
    default: 60
  wait_timeout:
    description: Seconds to wait for the new container's PostgreSQL and migration, and for the restored or rolled
      back service to be healthy.
    type: int
    default: 300
notes:
  - Test only, never in production. With C(GLITCHTIP_AIO_TEST_ONLY_FAIL_RESTORE_AT=swap) in the environment of the
    module, O(step=finish) makes the restore fail after it has filled the scratch database, to test the way back.
"""

EXAMPLES = r"""
- name: PostgreSQL major of the data directory against the new image's
  glitchtip.aio.postgres_upgrade:
    step: plan
    container: glitchtip-aio
    data_dir: /srv/glitchtip-aio
    image: glitchtip-aio:0123456789abcdef
    base_image: glitchtip/glitchtip:v5.2.9
  register: plan

- name: Back up, stop and move the old cluster aside
  glitchtip.aio.postgres_upgrade:
    step: prepare
    container: glitchtip-aio
    data_dir: /srv/glitchtip-aio
  when: plan.action == 'upgrade'
"""

RETURN = r"""
action:
  description: What the deploy does about the cluster.
  returned: step plan
  type: str
  sample: upgrade
message:
  description: The answer in words.
  returned: always
  type: str
  sample: "PostgreSQL 15 → 17: will upgrade by dump and restore"
cluster_major:
  description: The data directory's PostgreSQL major (null without a cluster).
  returned: always
  type: int
  sample: 15
image_major:
  description: The new image's PostgreSQL major.
  returned: step plan and finish
  type: int
  sample: 17
image_major_from:
  description: Where RV(image_major) came from (C(image) or C(base image <ref> (Debian <release>))).
  returned: step plan
  type: str
failed_step:
  description: The step that failed (C(backup), C(stop), C(move), C(start), C(restore), C(health), ...).
  returned: failure
  type: str
backup:
  description: The verified backup taken before the upgrade (host path).
  returned: steps prepare and finish
  type: str
old_cluster:
  description: Where the old cluster is kept (host path).
  returned: steps prepare and finish
  type: str
versions:
  description: PostgreSQL server versions before and after.
  returned: step finish
  type: dict
  sample: {before: "15.14", after: "17.6"}
downtime_seconds:
  description: From the old container's stop until the restored service was healthy.
  returned: step finish
  type: float
"""

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_aside, container_exec
from ansible_collections.glitchtip.aio.plugins.module_utils import postgres_upgrade as pgu
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health as health_rules
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import settings as aio_settings
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime.backup_files import fsync_path

try:
    from docker.errors import APIError, DockerException, NotFound
except ImportError:  # reported by require_docker
    APIError = DockerException = NotFound = Exception

TEST_FAIL_ENV = "GLITCHTIP_AIO_TEST_ONLY_FAIL_RESTORE_AT"
WAIT_INTERVAL = 0.5


class StepError(Exception):
    def __init__(self, step, reason):
        super().__init__("%s: %s" % (step, reason))
        self.step = step
        self.reason = reason


def read_image_file(client, image, paths):
    """The text of the first of PATHS in IMAGE (a container created, never started, then removed), or None."""
    try:
        created = client.api.create_container(image, command=["/bin/true"], name="glitchtip-aio-read-%s"
                                              % uuid.uuid4().hex[:8], labels={"org.glitchtip-aio.oneoff": "true"})
    except NotFound:
        return None
    try:
        for path in paths:
            try:
                stream, _stat = client.api.get_archive(created["Id"], path)
            except NotFound:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                member = archive.next()
                if member is None or not member.isfile():
                    continue
                return archive.extractfile(member).read().decode("utf-8", "replace")
        return None
    finally:
        client.api.remove_container(created["Id"], force=True)


def image_exists(client, image):
    try:
        client.api.inspect_image(image)
        return True
    except NotFound:
        return False


def new_image_major(client, image, base_image):
    """(major, where it came from): the built image's record, else the base image's Debian release."""
    if image and image_exists(client, image):
        text = read_image_file(client, image, [pgu.CARRIES_FILE])
        if text:
            carries = pgu.parse_carries(text)
            if carries["postgres_major"] is not None:
                return carries["postgres_major"], "image %s" % image, carries
    if not base_image:
        raise StepError("plan", "image %s does not exist (yet) and no base_image was given" % image)
    text = read_image_file(client, base_image, pgu.OS_RELEASE_FILES)
    if text is None:
        raise StepError("plan", "glitchtip_image_base: %s has no /etc/os-release to tell its Debian release by"
                        % base_image)
    codename = pgu.os_release_codename(text)
    try:
        major = pgu.major_of_release(codename, base_image)
    except ValueError as exc:
        raise StepError("plan", str(exc))
    return major, "base image %s (Debian %s)" % (base_image, codename), {
        "postgres_major": major, "redis_version": pgu.DEBIAN_REDIS.get(codename), "debian": codename}


def read_record(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def write_record(path, record):
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(partial, path)
    fsync_path(os.path.dirname(path))


def logs_tail(container, lines=15):
    try:
        return container.client.api.logs(container.name, tail=lines).decode("utf-8", "replace").strip()
    except (APIError, DockerException):
        return ""


def aio_job(container, step, args, environment=None):
    """The report of an ``aio`` job that says ok (backup, restore); StepError naming STEP otherwise."""
    try:
        code, report = container.exec_aio_json(args, environment=environment)
    except container_exec.ContainerError as exc:
        raise StepError(step, str(exc))
    if code != 0 or not report.get("ok"):
        raise StepError(step, report.get("reason"))
    return report


def server_version(container):
    code, out, _err = container.exec_aio(["psql", "-XAtq", "-c", "SHOW server_version"])
    return out.split()[0] if code == 0 and out.strip() else None


def log_dir(params):
    return os.path.join(params["data_dir"], "logs")


def wait_healthy(container, params):
    """Until the deploy's components are ok (health_rules.deploy_wait_components for the container's roles);
    StepError with the reason when they are not within wait_timeout."""
    attrs = container.inspect()
    roles = aio_settings.server_roles(aio_settings.environ_from_entries((attrs or {}).get("Config", {}).get("Env")))
    watch = container_exec.HealthWatch(container, health_rules.deploy_wait_components(roles, after_start=False),
                                       log_dir(params))
    outcome, _report, reason, _attempts = watch.wait(params["wait_timeout"], WAIT_INTERVAL)
    if outcome != "ok":
        running = bool((watch.last_attrs or {}).get("State", {}).get("Running"))
        raise StepError("health", "%s: %s%s" % (container.name, reason, "" if running else ": " + logs_tail(container)))


def wait_ready_for_restore(container, params):
    """Until the new container's PostgreSQL answers and its migration has finished (pgu.readiness)."""
    watch = container_exec.HealthWatch(container, pgu.READINESS_COMPONENTS, log_dir(params), reduce=pgu.readiness)
    outcome, _report, reason, _attempts = watch.wait(params["wait_timeout"], WAIT_INTERVAL)
    if outcome != "ok":
        raise StepError("start", "the new container %s is not ready for the restore (its PostgreSQL and migration, "
                        "within %ds): %s: %s" % (container.name, params["wait_timeout"], reason, logs_tail(container)))


def step_plan(module, container):
    params, client = module.params, container.client
    if not params["image"]:
        module.fail_json(msg="image is required with step=plan")
    names = pgu.aside_names(params["data_dir"], 0, "")
    try:
        cluster_major = pgu.read_cluster_major(params["data_dir"])
    except ValueError as exc:
        raise StepError("plan", str(exc))
    hold = read_record(names["record"])
    if hold is not None:
        hold["record"] = names["record"]
    image_major, source, carries = new_image_major(client, params["image"], params["base_image"])
    answer = pgu.decide(cluster_major, image_major, params["auto_upgrade"], hold)
    result = dict(changed=False, action=answer["action"], message=answer["message"], cluster_major=cluster_major,
                  image_major=image_major, image_major_from=source, image_carries=carries)
    if module._diff:
        result["diff"] = pgu.plan_diff(cluster_major, image_major, answer["action"], names["cluster"])
    if answer["action"] == pgu.REFUSE:
        module.fail_json(msg=answer["message"], failed_step="plan", **result)
    module.exit_json(**result)


def step_prepare(module, container):
    params, name, api = module.params, module.params["container"], container.client.api
    cluster_major = pgu.read_cluster_major(params["data_dir"])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    names = pgu.aside_names(params["data_dir"], cluster_major or 0, stamp)
    if read_record(names["record"]) is not None:
        raise StepError("prepare", "an upgrade record already exists at %s" % names["record"])
    if module.check_mode:
        module.exit_json(changed=True, cluster_major=cluster_major, message="would back up %s, stop it and move the "
                         "PostgreSQL %s cluster to %s" % (name, cluster_major, names["old_cluster"]))
    attrs = container.inspect()
    if not attrs or not attrs["State"].get("Running"):
        raise StepError("backup", "container %s is not running, and the backup must come from the running PostgreSQL "
                        "%s container; nothing was changed: deploy the old base image again first"
                        % (name, cluster_major))
    old_container = pgu.old_container_name(name, cluster_major)
    try:
        aside_steps = container_aside.plan(container_aside.ASIDE, attrs, container_aside.inspect(api, old_container))
    except ValueError as exc:
        raise StepError("prepare", "nothing was changed: %s" % exc)
    try:
        report = aio_job(container, "backup", ["backup"])
    except StepError as exc:
        raise StepError("backup", "nothing was changed: %s" % exc.reason)
    backup_host = os.path.join(params["data_dir"], "backups", report["name"])
    record = dict(names, container=name, old_container=old_container, old_image=attrs["Image"],
                  restart_policy=(attrs.get("HostConfig") or {}).get("RestartPolicy") or {"Name": "no"},
                  cluster_major=cluster_major, backup=backup_host, backup_name=report["name"],
                  before_version=(report.get("versions") or {}).get("postgres"), stamp=stamp, done=[])
    write_record(names["record"], record)

    def done(what):
        record["done"].append(what)
        write_record(names["record"], record)

    record["stopped_at"] = time.time()
    try:
        container_aside.apply(api, aside_steps, name, old_container, params["stop_timeout"], done=done)
    except container_aside.AsideError as exc:
        raise StepError("stop", str(exc))
    try:
        os.rename(names["cluster"], names["old_cluster"])
        done("cluster_moved")
        if os.path.isdir(names["redis"]):
            subprocess.run(["cp", "-a", names["redis"], names["old_redis"]], check=True, capture_output=True)
            done("redis_copied")
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StepError("move", getattr(exc, "stderr", None) or str(exc))
    module.exit_json(changed=True, cluster_major=cluster_major, backup=backup_host,
                     old_cluster=names["old_cluster"], message="backed up to %s; %s stopped and kept as %s; the "
                     "PostgreSQL %s cluster moved to %s" % (backup_host, name, old_container,
                                                            cluster_major, names["old_cluster"]))


def step_finish(module, container):
    params, name, api = module.params, module.params["container"], container.client.api
    record = read_record(pgu.aside_names(params["data_dir"], 0, "")["record"])
    if record is None:
        raise StepError("finish", "no upgrade record under %s" % params["data_dir"])
    if module.check_mode:
        module.exit_json(changed=True, cluster_major=record["cluster_major"],
                         message="would restore %s into the new cluster" % record["backup"])
    wait_ready_for_restore(container, params)
    environment = {"AIO_TEST_ONLY_FAIL_RESTORE_AT": os.environ[TEST_FAIL_ENV]} if os.environ.get(TEST_FAIL_ENV) \
        else None
    aio_job(container, "restore", ["restore", "/data/backups/%s" % record["backup_name"],
                                   "--deadline", str(params["wait_timeout"])], environment)
    # Restarts start the app again from now on.
    os.unlink(record["record"])
    wait_healthy(container, params)
    downtime = pgu.downtime_seconds(record, time.time())
    after = server_version(container)
    old = container_aside.inspect(api, record["old_container"])
    try:
        container_aside.apply(api, container_aside.plan(container_aside.ABSENT, None, old), name,
                              record["old_container"])
    except container_aside.AsideError as exc:
        raise StepError("remove", str(exc))
    versions = {"before": record.get("before_version"), "after": after}
    module.exit_json(changed=True, cluster_major=record["cluster_major"], versions=versions,
                     downtime_seconds=downtime, backup=record["backup"], old_cluster=record["old_cluster"],
                     message="PostgreSQL %s → %s: upgraded by dump and restore, %ss of downtime; the old cluster is "
                     "kept at %s (and the Redis data of before at %s), the backup at %s; delete them once satisfied"
                     % (versions["before"], after, downtime, record["old_cluster"], record["old_redis"],
                        record["backup"]))


def step_rollback(module, container):
    params, name, api = module.params, module.params["container"], container.client.api
    record = read_record(pgu.aside_names(params["data_dir"], 0, "")["record"])
    if record is None:
        module.exit_json(changed=False, message="no upgrade record: nothing to roll back", cluster_major=None)
    if module.check_mode:
        module.exit_json(changed=True, cluster_major=record["cluster_major"], message="would roll back")
    done = record["done"]
    current, old = container_aside.inspect(api, name), container_aside.inspect(api, record["old_container"])
    # A record written before the policy was kept in it left the old container's policy as it was.
    policy = record.get("restart_policy") or ((old or current or {}).get("HostConfig") or {}).get("RestartPolicy")
    try:
        steps = container_aside.plan(container_aside.RESTORED, current, old, (policy or {}).get("Name"))
    except ValueError as exc:
        raise StepError("rollback", str(exc))
    # The old container, back under its name with its restart policy (the new one removed), but not started yet.
    try:
        container_aside.apply(api, [step for step in steps if step != "start"], name, record["old_container"],
                              restart_policy=policy)
    except container_aside.AsideError as exc:
        raise StepError("rollback", str(exc))
    if "cluster_moved" in done:
        if os.path.lexists(record["cluster"]):
            shutil.rmtree(record["cluster"])
        os.rename(record["old_cluster"], record["cluster"])
    if "redis_copied" in done:
        shutil.rmtree(record["redis"])
        os.rename(record["old_redis"], record["redis"])
    # Before the old container starts: with the record it would hold its app.
    os.unlink(record["record"])
    try:
        container_aside.apply(api, [step for step in steps if step == "start"], name, record["old_container"])
    except container_aside.AsideError as exc:
        raise StepError("rollback", str(exc))
    wait_healthy(container, params)
    downtime = pgu.downtime_seconds(record, time.time())
    module.exit_json(changed=True, cluster_major=record["cluster_major"], backup=record["backup"],
                     message="rolled back: %s runs its old image %s on the untouched PostgreSQL %s cluster again "
                     "and is healthy (%ss of downtime); the backup is at %s"
                     % (name, record["old_image"][:19], record["cluster_major"], downtime, record["backup"]))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            step=dict(type="str", required=True, choices=["plan", "prepare", "finish", "rollback"]),
            data_dir=dict(type="path", required=True),
            image=dict(type="str"),
            base_image=dict(type="str"),
            auto_upgrade=dict(type="bool", default=True),
            stop_timeout=dict(type="int", default=60),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    try:
        container = container_exec.AioContainer(module.params["container"], module.params["docker_host"],
                                                timeout=max(120, module.params["wait_timeout"] + 60))
        {"plan": step_plan, "prepare": step_prepare, "finish": step_finish,
         "rollback": step_rollback}[module.params["step"]](module, container)
    except StepError as exc:
        module.fail_json(msg="PostgreSQL upgrade: %s" % exc, failed_step=exc.step, cluster_major=None)
    except (container_exec.ContainerError, aio_settings.SettingsError, APIError, DockerException, OSError) as exc:
        module.fail_json(msg="PostgreSQL upgrade (%s): %s" % (module.params["step"], exc),
                         failed_step=module.params["step"], cluster_major=None)


if __name__ == "__main__":
    main()
