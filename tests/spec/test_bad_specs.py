"""A corpus of bad specs: each is refused with exit 2, a located message, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

BAD = Path(__file__).parent / "bad"

# file -> (expected text in the message, expected "line:column" or None when the
# problem is the file as a whole)
EXPECTED: dict[str, tuple[str, str | None]] = {
    "alias-bomb.yaml": ("expands to more than", "1:"),
    "bad-duration.yaml": ("a duration such as", "4:8"),
    "bad-field-type.yaml": ("one of str, int", "5:39"),
    "binary.yaml": ("binary, not YAML", None),
    "deep-nesting.yaml": ("nesting deeper than", "3:"),
    "depends-unknown.yaml": ("did you mean 'catalog'", "4:33"),
    "duplicate-entity.yaml": ("duplicate entity name 'product'", "6:14"),
    "duplicate-key.yaml": ("duplicate key 'proxy' (first at line 3)", "4:1"),
    "duplicate-service.yaml": ("duplicate service name 'orders'", "5:12"),
    "empty.yaml": ("the spec is empty", None),
    "entity-not-dns.yaml": ("is not a DNS label", "5:14"),
    "even-mongo-replicas.yaml": ("cannot elect by majority", "3:39"),
    "gateway-in-mvc.yaml": ("'gateway' is not used by the mvc architecture", "3:1"),
    "id-field.yaml": ("field 'id' is generated", "5:32"),
    "keyword-field.yaml": ("field name 'class' is reserved", "5:32"),
    "latin1.yaml": ("not valid UTF-8", None),
    "list-root.yaml": ("must be a mapping", "1:1"),
    "missing-architecture.yaml": ("missing required key 'architecture'", "1:1"),
    "mysql-in-scaled.yaml": ("no replicated MySQL", "3:20"),
    "misspelled-engine.yaml": ("did you mean 'postgres'", "4:11"),
    "misspelled-proxy-kind.yaml": ("did you mean 'nginx'", "3:15"),
    "name-not-dns.yaml": ("a DNS label", "1:7"),
    "only-comments.yaml": ("the spec is empty", None),
    "port-collision.yaml": ("port 8443 is already used by proxy.http_port", "3:38"),
    "port-out-of-range.yaml": ("out of range (maximum 65535)", "3:21"),
    "port-wrong-type.yaml": ("expected integer", "3:20"),
    "python-tag.yaml": ("is not allowed", "1:7"),
    "replicas-in-mvc.yaml": ("only used by the scaled architecture", "4:3"),
    "replicas-out-of-range.yaml": ("out of range (maximum 32)", "4:13"),
    "reserved-entity.yaml": ("is reserved by archgen", "5:14"),
    "scalar-root.yaml": ("must be a mapping", "1:1"),
    "sentinel-in-mvc.yaml": ("only used by the scaled architecture", "3:9"),
    "syntax-error.yaml": ("YAML syntax error", "4:1"),
    "tab-indent.yaml": ("YAML syntax error", "4:1"),
    "too-large.yaml": ("limited to 1 MiB", None),
    "unknown-architecture.yaml": ("did you mean 'mvc'", "2:15"),
    "unknown-nested-key.yaml": ("did you mean 'entities'", "4:3"),
    "unknown-service-ref.yaml": ("did you mean 'payments'", "10:19"),
    "unknown-top-key.yaml": ("did you mean 'proxy'", "3:1"),
    "weights-mismatch.yaml": ("2 weights for 3 replicas", "4:29"),
    "service-named-bus.yaml": ("the name 'bus' is used twice: by the bus 'kafka'", "5:12"),
    "service-beside-its-database.yaml": (
        "the name 'orders-db' is used twice: by the database 'postgres (orders)'", "5:12"),
    "depends-cycle.yaml": ("cycle: orders → payments → stock → orders", "4:20"),
    "bind-not-an-address.yaml": ("'999.1.1.1' is not an IP address", "3:28"),
    "bind-ipv6.yaml": ("IPv6 bind address '::1' is not available yet", "3:28"),
    "jaeger-ui-port-collision.yaml": ("port 9090 is already used by ui_ports.prometheus",
                                      "6:38"),
    "service-named-sagas.yaml": ("service name 'sagas' is reserved by archgen", "5:12"),
    "cache-ttl-in-microservices.yaml": ("cache.ttl (cached responses) is not used by the "
                                        "microservices architecture", "5:3"),
    "service-entity-reserved.yaml": ("entity name 'healthz' is reserved by archgen", "6:16"),
    "service-replicas.yaml": ("more than one replica of a service is not available yet", "4:30"),
    "saga-step-unknown-service.yaml": ("unknown service 'paymnts' (did you mean 'payments'?)",
                                       "10:19"),
    "service-beside-its-test.yaml": ("is used by the test stage of service 'orders'", "5:12"),
    "grafana-without-source.yaml": ("grafana needs a data source: prometheus or jaeger",
                                    "3:17"),
    "ui-port-without-tool.yaml": ("ui_ports.prometheus is only used when the project has "
                                  "prometheus", "3:12"),
    "ui-port-rabbitmq-with-kafka.yaml": ("ui_ports.rabbitmq is only used when the project has "
                                         "rabbitmq", "6:12"),
    "ui-port-rabbitmq-default-taken.yaml": ("rabbitmq's default UI port 15672 is already used "
                                            "by gateway.https_port", "6:9"),
    "ui-port-collision.yaml": ("port 9090 is already used by proxy.http_port", "5:24"),
    "grafana-default-port-taken.yaml": ("grafana's default UI port 3000 is already used by "
                                        "proxy.http_port", "4:29"),
}


def test_the_corpus_covers_every_file_and_has_at_least_25() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_spec_is_refused_with_a_located_message_and_no_output(
    name: str, cli, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    text, location = EXPECTED[name]
    spec = BAD / name
    target = tmp_path / "out"
    result = cli("new", spec, "-o", target)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert text in result.stderr
    expected_prefix = f"{spec}:{location}" if location else f"{spec}:"
    assert expected_prefix in result.stderr
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging folder left behind either


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_json_lists_the_located_problems(name: str, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", BAD / name, "--json")
    assert result.exit_code == 2
    document = result.json
    assert document["valid"] is False
    assert document["problems"]
    first = document["problems"][0]
    assert first["file"] == str(BAD / name)
    if EXPECTED[name][1] is not None:
        assert first["line"] is not None
