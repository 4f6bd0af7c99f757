# -*- coding: utf-8 -*-
"""render.py: values must reach supervisord byte for byte, or be refused.

Every round trip goes through supervisor's own config parser (ServerOptions),
never through a re-implementation of its rules.
"""

from __future__ import annotations

import random

import pytest

from ansible_collections.glitchtip.aio.plugins.filter import render as render_filter
from ansible_collections.glitchtip.aio.plugins.module_utils import render

# Values that supervisord's environment= syntax can carry, each aimed at one rule:
# quoting, ConfigParser comments, shlex, '%' expansion, the key=value,... split.
REPRESENTABLE = [
    "plain",
    "",
    "it's",                                   # single quote inside: wrapped in double quotes
    'say "hi" now',                           # double quote inside: wrapped in single quotes
    "a;b",                                    # ';' not after white space is no comment
    "a#b",
    ";leading-semicolon",
    "#leading-hash",
    "trailing;",
    "$HOME ${HOME} $(id) `id`",
    "100%",
    "%%",
    "%(ENV_HOME)s",                           # must stay literal, not become $HOME
    "%(here)s %(program_name)s",
    "C:\\path\\to\\dir\\",                    # backslashes, one at the very end
    "\\\"x",                                  # backslash then double quote (single-quoted)
    "\\'x",                                   # non-POSIX shlex knows no escapes
    "a,b,c",                                  # commas separate key=value pairs
    "k=v",
    "A=1,B=2",
    "x=\"y\",Z=w",
    "  padded both ends  ",
    "\ttab\tinside",
    "中文字符",
    "日本語とキー=値",
    "emoji 🚀🔥 mix",
    "ünïcödé – “curly” ‘quotes’",
    "it's 50% of $HOME, k=v; 中文 🚀 \\n \\",
    "{{ jinja }} {% raw %}",
    "a\x0bb\x0cc",                            # vertical tab / form feed are not line breaks for files
    "\u2028\u2029\x85",                       # Unicode line separators: not line breaks for files
]

# (value, fragment the error message must contain)
UNREPRESENTABLE = [
    ("a\x00b", "NUL"),
    ("a\nb", "newline"),
    ("trailing\n", "newline"),
    ("a\rb", "carriage return"),
    ("a ;b", "comment"),
    ("a #b", "comment"),
    ("a\t;b", "comment"),
    ("a\t#b", "comment"),
    ("a\u3000#b", "comment"),                 # ideographic space is white space for ConfigParser too
    (" ;x", "comment"),
    ("both ' and \" quotes", "both single and double quotes"),
    ("'leading", "start or end with a quote"),
    ("trailing'", "start or end with a quote"),
    ('"leading', "start or end with a quote"),
    ('trailing"', "start or end with a quote"),
    ("'", "start or end with a quote"),
    ('"', "start or end with a quote"),
]


@pytest.mark.parametrize("value", REPRESENTABLE)
def test_environment_value_round_trips_through_supervisor(value, program_environment):
    line = render.supervisor_environment({"HOSTILE": value, "AFTER": "after"},
                                         "glitchtip_image_program_environment.web")
    parsed = program_environment(line)
    assert parsed == {"HOSTILE": value, "AFTER": "after"}
    assert parsed["HOSTILE"].encode("utf-8") == value.encode("utf-8")


def test_every_representable_value_in_one_line_round_trips(program_environment):
    mapping = {"V%02d" % index: value for index, value in enumerate(REPRESENTABLE)}
    assert program_environment(render.supervisor_environment(mapping)) == mapping


@pytest.mark.parametrize("value", REPRESENTABLE)
def test_supervisor_quoted_token_round_trips(value, program_environment):
    assert program_environment("K=" + render.supervisor_quoted(value)) == {"K": value}


def test_percent_escaping_is_needed_and_done(program_environment):
    # Control: written raw, supervisord expands %(ENV_HOME)s; escaped, it stays literal.
    raw = program_environment('K="%(ENV_HOME)s"')
    assert raw["K"] != "%(ENV_HOME)s"
    assert render.supervisor_quoted("%(ENV_HOME)s") == '"%%(ENV_HOME)s"'
    assert program_environment(render.supervisor_environment({"K": "%(ENV_HOME)s"})) == {"K": "%(ENV_HOME)s"}


def test_quoting_is_needed_and_done(program_environment):
    # Control: an unquoted comma value is split by supervisord; quoted it is not.
    with pytest.raises(ValueError):
        program_environment("K=a,b")
    assert program_environment(render.supervisor_environment({"K": "a,b"})) == {"K": "a,b"}


def test_quote_kind_is_the_one_the_value_lacks():
    assert render.supervisor_quoted("it's") == '"it\'s"'
    assert render.supervisor_quoted('say "hi" now') == "'say \"hi\" now'"
    assert render.supervisor_quoted("plain") == '"plain"'


def test_random_values_round_trip_or_are_refused(program_environment):
    """Seeded fuzz over the characters every rule cares about: no value is silently altered."""
    alphabet = list("ab ;#'\"\\%$,=()/.:+-\t\x0b\x0c\xa0\u3000中🚀{}!&|<>`~@") + ["%(ENV_HOME)s", "\n", "\x00"]
    rng = random.Random(20261127)
    accepted = {}
    refused = 0
    for index in range(400):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        try:
            render.supervisor_quoted(value, "V%d" % index)
        except ValueError as exc:
            assert "V%d" % index in str(exc)
            refused += 1
            continue
        accepted["V%03d" % index] = value
    assert accepted and refused, "the fuzz must exercise both outcomes"
    assert program_environment(render.supervisor_environment(accepted)) == accepted


@pytest.mark.parametrize("value,fragment", UNREPRESENTABLE)
def test_unrepresentable_values_are_refused_naming_the_variable(value, fragment):
    with pytest.raises(ValueError) as excinfo:
        render.supervisor_environment({"HOSTILE": value}, "glitchtip_image_program_environment.web")
    message = str(excinfo.value)
    assert "glitchtip_image_program_environment.web.HOSTILE" in message
    assert fragment in message


@pytest.mark.parametrize("value,fragment", UNREPRESENTABLE)
def test_supervisor_quoted_refuses_naming_what(value, fragment):
    with pytest.raises(ValueError, match="^the_variable"):
        render.supervisor_quoted(value, "the_variable")


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "A=B", "É", "A.B", "A,B", "A\"", "$A", "A;B"])
def test_invalid_environment_names_are_refused(name):
    with pytest.raises(ValueError) as excinfo:
        render.supervisor_environment({name: "x"}, "glitchtip_image_program_environment.worker")
    assert "glitchtip_image_program_environment.worker" in str(excinfo.value)
    assert "not a valid environment variable name" in str(excinfo.value)


@pytest.mark.parametrize("name", ["A", "_", "_A1", "abc_DEF_123", "CELERY_WORKER_MAX_TASKS_PER_CHILD"])
def test_valid_environment_names_are_kept(name, program_environment):
    assert program_environment(render.supervisor_environment({name: "v"})) == {name: "v"}


def test_environment_name_with_trailing_newline_is_refused():
    with pytest.raises(ValueError):
        render.supervisor_environment({"A\n": "x"})


def test_environment_is_sorted_and_comma_joined():
    assert render.supervisor_environment({"B": "2", "A": "1"}) == 'A="1",B="2"'
    assert render.supervisor_environment({}) == ""


def test_non_string_values_are_rendered_as_their_text(program_environment):
    line = render.supervisor_environment({"N": 1000, "F": 1.5})
    assert program_environment(line) == {"N": "1000", "F": "1.5"}


# supervisor_value: a bare option value (log sizes).

@pytest.mark.parametrize("value", ["10MB", "1024", "a%b", "%(ENV_HOME)s", "100%", "a;b", "a#b", "中文🚀", ""])
def test_supervisor_value_round_trips(value, supervisord_identifier):
    assert supervisord_identifier(render.supervisor_value(value)) == value


@pytest.mark.parametrize("value,fragment", [("a\nb", "newline"), ("a\rb", "carriage return"), ("a\x00", "NUL")])
def test_supervisor_value_refuses_control_characters(value, fragment):
    with pytest.raises(ValueError, match="glitchtip_image_log_max_bytes must not contain a %s" % fragment):
        render.supervisor_value(value, "glitchtip_image_log_max_bytes")


@pytest.mark.parametrize("value", ["10MB ;x", "10MB #x"])
def test_supervisor_value_never_silently_truncated(value, supervisord_identifier):
    try:
        rendered = render.supervisor_value(value, "glitchtip_image_log_max_bytes")
    except ValueError:
        return
    assert supervisord_identifier(rendered) == value


def test_supervisor_value_accepts_non_strings():
    assert render.supervisor_value(1024) == "1024"


# program_name

@pytest.mark.parametrize("name", ["web", "worker", "migrate", "postgres", "redis", "a", "a-b_c9", "a" * 41])
def test_valid_program_names(name):
    assert render.program_name(name) == name


@pytest.mark.parametrize("name", ["", "Web", "9web", "-web", "web server", "web;rm", "web]", "a" * 42, "web:x",
                                  "../web", "wéb"])
def test_invalid_program_names(name):
    with pytest.raises(ValueError, match="program name"):
        render.program_name(name)


def test_program_name_with_trailing_newline_is_refused():
    with pytest.raises(ValueError):
        render.program_name("web\n")


# image_reference

@pytest.mark.parametrize("reference", [
    "glitchtip/glitchtip:v5.2",
    "glitchtip/glitchtip",
    "debian",
    "debian:bookworm-slim",
    "registry.example.com:5000/base/glitchtip-base:latest",
    "etservice-registry.cn-beijing.cr.aliyuncs.com/base/glitchtip-base:latest",
    "localhost:5000/glitchtip-aio:abc123",
    "ghcr.io/org/sub/image_name:1.0.0-rc.1",
    "glitchtip/glitchtip@sha256:" + "a" * 64,
    "glitchtip/glitchtip:v5.2@sha256:" + "0123456789abcdef" * 4,
    "Registry.Example.COM/base/image:Tag_1",
])
def test_valid_image_references_are_accepted(reference):
    assert render.image_reference(reference) == reference


@pytest.mark.parametrize("reference", [
    "FOO:bar",
    "glitchtip/GlitchTip:v5.2",
    "a b",
    "x;rm -rf /",
    "evil; rm -rf /",
    "glitchtip/glitchtip:v5.2\nRUN id",
    "glitchtip/glitchtip:v5.2\n",
    "glitchtip/glitchtip:v5.2\r",
    "glitchtip/glitchtip:v5.2\x00",
    "",
    ":latest",
    "glitchtip/glitchtip:",
    "glitchtip/glitchtip:-bad",
    "glitchtip/glitchtip:" + "a" * 129,
    "glitchtip//glitchtip",
    "glitchtip/glitchtip@sha256:short",
    "$(id)/image",
    "image:tag AS stage",
    "--platform=linux/amd64 image",
])
def test_invalid_image_references_are_refused(reference):
    with pytest.raises(ValueError) as excinfo:
        render.image_reference(reference, "glitchtip_image_base")
    assert "glitchtip_image_base" in str(excinfo.value)


# The filter plugin: the same functions, errors as AnsibleFilterError.

def test_filter_plugin_exposes_the_render_functions():
    filters = render_filter.FilterModule().filters()
    assert set(filters) == {"supervisor_value", "supervisor_quoted", "supervisor_environment", "program_name",
                            "image_reference", "health_row", "container_environment", "registry_host",
                            "health_wait_components", "backup_destination_environment", "backup_destination_problems",
                            "backup_destination_packages", "backup_copy_lines", "backup_copy_failures"}
    assert filters["supervisor_environment"]({"A": "it's"}, "x") == render.supervisor_environment({"A": "it's"})


def test_the_copy_failures_filter_is_the_runtimes_rule():
    failures = render_filter.FilterModule().filters()["backup_copy_failures"]
    assert failures({"sftp": {"ok": False}, "s3": {"ok": True}, "b2": {"ok": False}}) == ["b2", "sftp"]
    assert failures({}) == [] and failures(None) == []


def test_the_health_wait_filter_is_the_runtimes_list():
    components = render_filter.FilterModule().filters()["health_wait_components"]
    assert components(["web", "worker"], True) == ["supervisor", "postgres", "redis", "web", "worker"]
    assert components(["web", "worker"]) == ["supervisor", "postgres", "redis", "web"]
    assert components("worker,beat", True) == ["supervisor", "postgres", "redis", "worker"]


def test_filter_plugin_turns_value_errors_into_filter_errors():
    from ansible.errors import AnsibleFilterError

    filters = render_filter.FilterModule().filters()
    with pytest.raises(AnsibleFilterError,
                       match="glitchtip_image_program_environment.web.K must not contain a newline"):
        filters["supervisor_environment"]({"K": "a\nb"}, "glitchtip_image_program_environment.web")
    with pytest.raises(AnsibleFilterError, match="glitchtip_image_base"):
        filters["image_reference"]("evil; rm -rf /", "glitchtip_image_base")


# The Jinja test plugin: validation's view of the same rule.

def test_image_reference_jinja_test_agrees_with_the_filter():
    from ansible_collections.glitchtip.aio.plugins.test import render as render_tests

    image_reference = render_tests.TestModule().tests()["image_reference"]
    assert image_reference("glitchtip/glitchtip:v5.2") is True
    assert image_reference("registry.example.com:5000/base/glitchtip-base:latest") is True
    assert image_reference("evil; rm -rf /") is False
    assert image_reference("FOO:bar") is False
    assert image_reference("glitchtip/glitchtip:v5.2\n") is False


@pytest.mark.parametrize("value, text", [
    (True, "true"), (False, "false"), (None, ""), (90, "90"), ("1 3 * * *", "1 3 * * *"),
    (["web", "worker", "beat"], "web,worker,beat"), ([], ""), ("yes", "yes"),
])
def test_environment_value(value, text):
    assert render.environment_value(value) == text


def test_container_environment_merges_in_order_and_keeps_extras_as_written():
    environment = render.container_environment(
        {"DEBUG": False, "ALLOWED_HOSTS": ["a.example", "localhost"], "AIO_DB_PORT": "x"},
        {"AIO_DB_PORT": 5433}, {"FLAG": True, "DEBUG": "1"}, None)
    assert environment == {"DEBUG": "1", "ALLOWED_HOSTS": "a.example,localhost", "AIO_DB_PORT": "5433", "FLAG": "True"}


@pytest.mark.parametrize("reference, kind, host", [
    ("registry.example.com:5000/base/glitchtip-aio", "repository", "registry.example.com:5000"),
    ("localhost/glitchtip-aio", "repository", "localhost"),
    ("someone/glitchtip-aio", "repository", "docker.io"),
    ("glitchtip-aio", "repository", "docker.io"),
    ("index.docker.io/someone/x", "repository", "docker.io"),
    ("https://index.docker.io/v1/", "url", "docker.io"),
    ("https://registry.example.com:5000/v2/", "url", "registry.example.com:5000"),
    ("registry.example.com", "url", "registry.example.com"),
])
def test_registry_host(reference, kind, host):
    assert render.registry_host(reference, kind) == host


def test_registry_host_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be repository or url"):
        render.registry_host("x", "host")
