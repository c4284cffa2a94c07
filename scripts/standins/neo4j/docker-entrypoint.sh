#!/bin/bash
# The neo4j image's entrypoint contract, in our own words:
# - as root, /data and /logs are handed to neo4j (uid 7474) and the server runs as it;
# - NEO4J_AUTH=neo4j/<password> sets the initial password before the first start
#   (NEO4J_AUTH=none turns authentication off); NEO4J_AUTH_PATH reads it from a file;
# - every NEO4J_<setting> variable sets a neo4j.conf setting, named by the rule
#   NEO4J_ prefix dropped, `_` -> `.`, `__` -> `_` (NEO4J_server_memory_heap_max__size);
# - `neo4j` (the CMD) runs the server in the foreground; any other command is run as it is.
set -Eeuo pipefail

if [ "${1:-}" != neo4j ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    find /data /logs \! -user neo4j -exec chown neo4j:neo4j '{}' + 2>/dev/null || true
    exec setpriv --reuid=neo4j --regid=neo4j --init-groups "${BASH_SOURCE[0]}" "$@"
fi

conf="$NEO4J_HOME/conf/neo4j.conf"
if [ -n "${NEO4J_AUTH_PATH:-}" ]; then
    NEO4J_AUTH="$(< "$NEO4J_AUTH_PATH")"
fi

# Variables of the image, not settings.
not_settings=" NEO4J_HOME NEO4J_AUTH NEO4J_AUTH_PATH NEO4J_PLUGINS NEO4J_ACCEPT_LICENSE_AGREEMENT
 NEO4J_EDITION NEO4J_DEBUG NEO4J_CONF "
while IFS= read -r name; do
    case "$not_settings" in *" $name "*) continue ;; esac
    setting="$(sed -e 's/__/\x01/g' -e 's/_/./g' -e 's/\x01/_/g' <<< "${name#NEO4J_}")"
    grep -v -F "${setting}=" "$conf" > "$conf.tmp" || true
    cat "$conf.tmp" > "$conf" && rm -f "$conf.tmp"
    printf '%s=%s\n' "$setting" "${!name}" >> "$conf"
done < <(compgen -e | grep '^NEO4J_' || true)
if [ -n "${NEO4J_PLUGINS:-}" ]; then
    echo >&2 "stand-in: NEO4J_PLUGINS ignored (no plugins can be downloaded here)"
fi

case "${NEO4J_AUTH:-}" in
    none)
        printf 'dbms.security.auth_enabled=false\n' >> "$conf"
        ;;
    neo4j/*)
        password="${NEO4J_AUTH#neo4j/}"
        if [ "${#password}" -lt 8 ]; then
            echo >&2 "Invalid value for password. The minimum password length is 8 characters."
            exit 1
        fi
        if [ ! -d /data/databases/system ]; then
            neo4j-admin dbms set-initial-password "$password" >/dev/null
        fi
        ;;
    "") ;;  # the default: user neo4j with password neo4j, to be changed at first login
    *)
        echo >&2 "Invalid value for NEO4J_AUTH: '${NEO4J_AUTH}'"
        exit 1
        ;;
esac
shift
exec neo4j console "$@"
