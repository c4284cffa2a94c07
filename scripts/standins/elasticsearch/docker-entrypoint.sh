#!/bin/bash
# The elasticsearch image's entrypoint contract, served by OpenSearch:
# - options alone (or `eswrapper`, the image's CMD) run the server with them;
# - every environment variable whose name contains a dot (discovery.type,
#   cluster.name, ...) is a setting passed as -E name=value; xpack.* settings have no
#   OpenSearch equivalent and are dropped with a note (there is no security plugin:
#   the REST API answers without authentication, as with xpack.security.enabled=false);
# - ES_JAVA_OPTS is appended to the JVM options (its -Xms/-Xmx win);
# - any other command is run as it is.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then
    set -- eswrapper "$@"
fi
if [ "${1:-}" != eswrapper ] && [ "${1:-}" != elasticsearch ]; then
    exec "$@"
fi
shift
settings=()
while IFS='=' read -r -d '' name value; do
    case "$name" in
        *.*) ;;
        *) continue ;;
    esac
    case "$name" in
        xpack.security.enabled)
            if [ "$value" = true ]; then
                echo >&2 "stand-in: xpack.security.enabled=true cannot be honoured (OpenSearch without its security plugin): the REST API needs no credentials"
            fi
            continue
            ;;
        xpack.*) echo >&2 "stand-in: $name ignored (no X-Pack in OpenSearch)"; continue ;;
    esac
    settings+=("-E" "$name=$value")
done < <(env -0)
if [ -n "${ELASTIC_PASSWORD:-}" ]; then
    echo >&2 "stand-in: ELASTIC_PASSWORD ignored (no security plugin)"
fi
home=/usr/share/elasticsearch
# shellcheck disable=SC2086
exec java -Xms512m -Xmx512m -XX:+UseG1GC -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=data \
    -Dfile.encoding=UTF-8 -Djava.io.tmpdir="${TMPDIR:-/tmp}" -Djava.locale.providers=SPI,COMPAT \
    ${ES_JAVA_OPTS:-} -Dopensearch.path.home="$home" -Dopensearch.path.conf="$home/config" \
    -Dopensearch.distribution.type=docker -Dopensearch.bundled_jdk=false \
    -cp "$home/lib/*" org.opensearch.bootstrap.OpenSearch "${settings[@]}" "$@"
