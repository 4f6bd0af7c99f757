"""Helpers every test file of the scenario shares (pytest puts this directory on sys.path)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid

PROJECT_DIR = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.abspath(os.path.join(__file__, "../../../..")))
SCENARIO_DIR = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", os.path.join(PROJECT_DIR, "molecule", "default"))
CONVERGE = os.path.join(SCENARIO_DIR, "converge.yml")


def run_playbook(playbook, *args, env=None, timeout=900):
    """ansible-playbook on the scenario's inventory, as an operator would run it; a bare name is one of
    the collection's playbooks. The completed process, output as text."""
    path = playbook if os.path.isabs(playbook) else os.path.join(PROJECT_DIR, "playbooks", playbook)
    # The repository's ansible.cfg, as an operator runs it (molecule's own would send failures to
    # stderr and print results as JSON), whether the tests run under molecule or by hand.
    full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT_DIR, "collections"),
                    ANSIBLE_CONFIG=os.path.join(PROJECT_DIR, "ansible.cfg"), ANSIBLE_DISPLAY_FAILED_STDERR="false",
                    ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    full_env.update(env or {})
    return subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path] + list(args),
                          capture_output=True, text=True, env=full_env, timeout=timeout, cwd=PROJECT_DIR,
                          stdin=subprocess.DEVNULL)


def recap(output, host="localhost"):
    """{ok, changed, failed, ...} of one host from the PLAY RECAP (the last one when there are several
    plays); output is ansible-playbook's stdout or its completed process."""
    stdout = getattr(output, "stdout", output)
    lines = [line for line in stdout.splitlines() if re.match(r"^%s\s+:" % re.escape(host), line)]
    assert lines, "no PLAY RECAP line for %s in:\n%s" % (host, stdout[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", lines[-1])}


def exec_in(container, argv, user="root"):
    result = container.exec_run(argv, user=user)
    return result.exit_code, result.output.decode("utf-8", "replace")


def aio(container, *args, environment=None):
    """(exit code, stdout, stderr) of the in-container aio command."""
    result = container.exec_run(["/usr/local/bin/aio"] + list(args), environment=environment, demux=True)
    stdout, stderr = result.output
    return result.exit_code, (stdout or b"").decode(), (stderr or b"").decode()


def health(container, *components):
    """`aio health --json` of the given components (all without any)."""
    args = ["health", "--json"]
    for name in components:
        args += ["--component", name]
    _code, out, _err = aio(container, *args)
    return json.loads(out)


def wait_for(predicate, timeout, what):
    """Poll predicate() until it returns True; the last other answer goes into the failure."""
    import docker

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (docker.errors.APIError, ValueError) as exc:  # container restarting, half-written output
            last = exc
        if last is True:
            return
        time.sleep(0.2)
    raise AssertionError("%s not seen within %ds (last: %r)" % (what, timeout, last))


def program_pid(container, name):
    return health(container, "supervisor")["components"]["supervisor"]["details"]["programs"][name]["pid"]


def web_workers(container):
    """PIDs of the web server's workers (gunicorn's or granian's): the children of web's master."""
    master = program_pid(container, "web")
    result = container.exec_run(["sh", "-c", "ps -o pid= --ppid %d" % master])
    return sorted(int(pid) for pid in result.output.decode().split())


def wait_healthy(container, timeout=120):
    """Wait until every component is ok; returns the health report."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "running":
            code, out = exec_in(container, ["/usr/local/bin/aio", "health", "--json"])
            if code == 0:
                return json.loads(out)
        time.sleep(1)
    raise AssertionError("not healthy after %ds: %s" % (timeout, out))


def psql(container, sql):
    """One SQL statement on the GlitchTip database as postgres; its rows as unaligned text."""
    result = container.exec_run(["psql", "-h", "/run/postgresql", "-d", "glitchtip", "-XAtq", "-v", "ON_ERROR_STOP=1",
                                 "-c", sql], user="postgres")
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode().strip()


# Rows written by the running app itself (the worker's periodic heartbeat; on GlitchTip 6 in
# PostgreSQL-only mode the task queue, the scheduler's metadata and the cache): left out of
# before/after comparisons.
LIVE_TABLES = {"events_workerheartbeat", "db_queuedtask", "db_vtaskmetadata", "django_cache"}


def table_checksums(container):
    """{table: md5 of its rows in a stable order} for every table of the public schema."""
    tables = [t for t in psql(container, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                              ).split() if t not in LIVE_TABLES]
    assert len(tables) >= 10, tables
    return {table: psql(container, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                                   "FROM %s t" % table) for table in tables}


def upload_checksums(settings):
    root = os.path.join(settings["glitchtip_data_dir"], "uploads")
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def generate_data(container, marker):
    """Rows in every table the stand-in has, through the app where it matters, plus uploads."""
    script = (
        "from users.models import User; from organizations.models import Organization, OrganizationUser;"
        "from projects.models import Project; from events.models import Event, MaintenanceRun, WorkerHeartbeat;"
        "from files.models import File; from django.core.files.base import ContentFile; import uuid, hashlib;"
        "u = User.objects.create_user(email='%(m)s@example.com', password='pw-%(m)s');"
        "o = Organization.objects.create(name='%(m)s', slug='%(m)s');"
        "OrganizationUser.objects.create(organization=o, user=u, role='owner');"
        "p = Project.objects.create(organization=o, name='%(m)s', slug='%(m)s');"
        "[Event.objects.create(project=p, event_id=uuid.uuid4(), payload={'n': i, 'm': '%(m)s'}) for i in range(20)];"
        "MaintenanceRun.objects.create(kind='test', detail='%(m)s');"
        "WorkerHeartbeat.objects.update_or_create(worker='%(m)s');"
        "data = ('upload %(m)s ' * 500).encode();"
        "f = File(project=p, name='%(m)s.txt', sha256=hashlib.sha256(data).hexdigest());"
        "f.stored.save('%(m)s.txt', ContentFile(data)); f.save()"
    ) % {"m": marker}
    result = container.exec_run(["/usr/local/bin/aio", "manage", "shell", "-c", script])
    assert result.exit_code == 0, result.output.decode()


def http(url, data=None, headers=None, timeout=10):
    """(status, body) of a plain HTTP request; a refused or timed-out connection raises OSError."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def store_processed_event(sql, store_url, read_url, message, timeout):
    """A new project (rows written with sql), an event stored through store_url's web server, and its id
    once the worker processed it, as read through read_url's (the same or another web server)."""
    slug = "t-%s" % uuid.uuid4().hex[:8]
    key = uuid.uuid4().hex
    project_id = sql("WITH o AS (INSERT INTO organizations_organization (name, slug, created) "
                     "VALUES ('%s', '%s', now()) RETURNING id) "
                     "INSERT INTO projects_project (organization_id, name, slug, dsn_key, created) "
                     "SELECT id, 'p', 'p', '%s', now() FROM o RETURNING id" % (slug, slug, key)).splitlines()[0]
    status, body = http("%s/api/%s/store/" % (store_url, project_id), data=json.dumps({"message": message}).encode(),
                        headers={"Content-Type": "application/json", "X-Sentry-Auth": "Sentry sentry_key=%s" % key})
    assert status == 200, body
    event_id = json.loads(body)["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http("%s/api/0/events/%s/" % (read_url, event_id))
        if status == 200 and json.loads(body)["processed"]:
            return event_id
        time.sleep(0.5)
    raise AssertionError("event %s not processed (read through %s): %s %s" % (event_id, read_url, status, body))


class Probes:
    """What a prober saw: the requests that failed, and the longest time between two good answers
    (the time a user would have waited; issue 10 asks for at most 1 s)."""

    def __init__(self):
        self.count, self.failures, self.longest_gap = 0, [], 0.0

    def __repr__(self):
        return "%d probes, %d failed, longest gap %.2f s: %s" % (
            self.count, len(self.failures), self.longest_gap, self.failures[:5])


def probe_until(url, stop, probes):
    """GET url every 100 ms with a 2 s timeout until stop is set, recording into probes (a Probes)."""
    last_ok = time.monotonic()
    while not stop.is_set():
        probes.count += 1
        try:
            status, _body = http(url, timeout=2)
            if status != 200:
                probes.failures.append("HTTP %s" % status)
            else:
                now = time.monotonic()
                probes.longest_gap = max(probes.longest_gap, now - last_ok)
                last_ok = now
        except OSError as exc:  # refused, reset, timed out: a user's request would have failed
            probes.failures.append(repr(exc))
        stop.wait(0.1)
    # A service still down when the probing stops counts up to that moment.
    probes.longest_gap = max(probes.longest_gap, time.monotonic() - last_ok)


def playbook_under_probe(url, playbook, *args, env=None, each=None):
    """PLAYBOOK with ARGS while URL is asked for every 100 ms (2 s timeout): (completed process, seen), each
    entry of seen (seconds since the start, status or None when the request failed). EACH(), when given,
    runs after every probe (to watch something else at the same pace)."""
    import threading

    stop, seen, started = threading.Event(), [], time.monotonic()

    def probe():
        while not stop.is_set():
            try:
                status, _body = http(url, timeout=2)
            except OSError:
                status = None
            seen.append((round(time.monotonic() - started, 2), status))
            if each:
                each()
            stop.wait(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        result = run_playbook(playbook, *args, env=env)
    finally:
        time.sleep(0.5)
        stop.set()
        prober.join()
    return result, seen


def restart_playbook_under_probe(url):
    """restart.yml (notifications off) while url is probed every 100 ms: (its completed process, the
    Probes)."""
    import threading

    stop, probes = threading.Event(), Probes()
    prober = threading.Thread(target=probe_until, args=(url, stop, probes))
    prober.start()
    try:
        result = run_playbook("restart.yml", "-e", "glitchtip_restart_notify=false", "-v")
    finally:
        time.sleep(0.5)
        stop.set()
        prober.join()
    return result, probes


# A webhook receiver inside the container (where the notifications are sent from): a real HTTP
# server that records every POST and answers like Feishu (code 0 / refused), a generic
# webhook, or not at all within the sender's timeout.
SINK = r'''
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open("/tmp/sink.jsonl", "a") as out:
            out.write(json.dumps({"path": self.path, "body": body}) + "\n")
        if self.path == "/hang":
            time.sleep(20)
        status, answer = {"/feishu-ok": (200, {"code": 0, "msg": "success"}),
                          "/feishu-bad": (200, {"code": 19001, "msg": "param invalid"}),
                          "/generic": (200, {"ok": True}),
                          "/hang": (200, {"code": 0})}.get(self.path, (404, {}))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
'''


class Sink:
    """The webhook receiver as a test sees it: its URLs and what it received so far."""

    def __init__(self, container, port=9999):
        self.container, self.port = container, port
        container.exec_run(["rm", "-f", "/tmp/sink.jsonl"])
        probe = ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', %d))" % port]
        if container.exec_run(probe).exit_code != 0:  # one may run from an earlier test file
            container.exec_run(["python3", "-c", SINK, str(port)], detach=True)
        deadline = time.monotonic() + 10
        while container.exec_run(probe).exit_code != 0:
            assert time.monotonic() < deadline, "the webhook sink did not start"
            time.sleep(0.2)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def received(self):
        code, out = self.container.exec_run(["cat", "/tmp/sink.jsonl"])
        return [json.loads(line) for line in out.decode().splitlines() if line.strip()] if code == 0 else []
