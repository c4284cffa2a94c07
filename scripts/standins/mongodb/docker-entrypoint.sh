#!/bin/bash
# The mongo image's entrypoint contract, served by FerretDB:
# - `mongod [options]` (or options alone) starts the server; as root, /data/db and
#   /data/configdb are handed to mongodb (uid 999) and the server runs as that user;
# - MONGO_INITDB_ROOT_USERNAME / _PASSWORD (or their _FILE variants), both or neither:
#   a root user in `admin`, and authentication required on every start;
# - on the first start (empty data directory), a server on 127.0.0.1 only runs
#   /docker-entrypoint-initdb.d/*.sh (sourced) and *.js (mongosh, against
#   MONGO_INITDB_DATABASE, default `test`), then is stopped; createUser's roles are
#   dropped there with a warning (FerretDB has no authorization);
# - any other command is run as it is.
set -Eeuo pipefail

file_env() {
    local var="$1" file_var="${1}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        echo >&2 "error: both $var and $file_var are set (but are exclusive)"
        exit 1
    fi
    if [ -n "${!file_var:-}" ]; then
        export "$var"="$(< "${!file_var}")"
    fi
    unset "$file_var"
}

if [ "${1:0:1}" = '-' ]; then
    set -- mongod "$@"
fi

if [ "$1" != mongod ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    find /data/db /data/configdb \! -user mongodb -exec chown mongodb: '{}' + 2>/dev/null || true
    exec setpriv --reuid=mongodb --regid=mongodb --init-groups "${BASH_SOURCE[0]}" "$@"
fi

file_env MONGO_INITDB_ROOT_USERNAME
file_env MONGO_INITDB_ROOT_PASSWORD
root_user="${MONGO_INITDB_ROOT_USERNAME:-}"
root_password="${MONGO_INITDB_ROOT_PASSWORD:-}"
if [ -n "$root_user" ] && [ -z "$root_password" ] || [ -z "$root_user" ] && [ -n "$root_password" ]; then
    echo >&2 "error: MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD go together: set both or neither"
    exit 1
fi

# mongod's options that matter here; the rest are reported and ignored.
port=27017
bind_ip=""
auth=false
dbpath=/data/db
shift
while [ $# -gt 0 ]; do
    option="$1"
    shift
    value=""
    case "$option" in
        --*=*) value="${option#*=}"; option="${option%%=*}" ;;
    esac
    takes_value() {
        if [ -z "$value" ]; then
            value="${1:-}"
            return 0
        fi
        return 1
    }
    case "$option" in
        --port) takes_value "${1:-}" && shift; port="$value" ;;
        --bind_ip) takes_value "${1:-}" && shift; bind_ip="$value" ;;
        --bind_ip_all) bind_ip="*" ;;
        --dbpath) takes_value "${1:-}" && shift; dbpath="$value" ;;
        --auth) auth=true ;;
        --noauth) auth=false ;;
        --replSet | --keyFile | --config | -f | --logpath | --setParameter | --oplogSize | \
        --wiredTigerCacheSizeGB | --storageEngine | --profile | --slowms | --maxConns)
            takes_value "${1:-}" && shift
            echo >&2 "stand-in: mongod option $option $value ignored (FerretDB has no equivalent)"
            ;;
        *) echo >&2 "stand-in: mongod option $option ignored (FerretDB has no equivalent)" ;;
    esac
done
[ -n "$root_user" ] && auth=true

ferretdb=(
    ferretdb
    --handler=sqlite
    "--sqlite-url=file:${dbpath%/}/"
    "--state-dir=${dbpath%/}"
    --telemetry=disable
    --debug-addr=-
    --log-level="${FERRETDB_LOG_LEVEL:-info}"
)
if [ "$auth" = true ]; then
    ferretdb+=(--test-enable-new-auth)
fi

mongo=(mongosh --host 127.0.0.1 --port "$port" --quiet)
if [ -n "$root_user" ]; then
    mongo+=(--username="$root_user" --password="$root_password" --authenticationDatabase=admin)
fi

# First start: nothing in the data directory yet (FerretDB keeps state.json and *.sqlite there).
if [ -z "$(ls -A "$dbpath" 2>/dev/null)" ]; then
    setup=()
    if [ -n "$root_user" ]; then
        setup=(--setup-database=admin --setup-username="$root_user" --setup-password="$root_password")
    fi
    "${ferretdb[@]}" "${setup[@]}" --listen-addr="127.0.0.1:$port" &
    pid=$!
    for _ in $(seq 60); do
        if mongosh --host 127.0.0.1 --port "$port" --quiet --eval 'quit(0)' >/dev/null 2>&1; then
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo >&2 "error: the init server exited"
            exit 1
        fi
        sleep 0.5
    done
    export MONGO_INITDB_DATABASE="${MONGO_INITDB_DATABASE:-test}"
    echo
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "$0: running $f"; . "$f" ;;
            *.js)
                echo "$0: running $f"
                "${mongo[@]}" "$MONGO_INITDB_DATABASE" /usr/local/share/archgen-standin/initdb-roles.js "$f"
                echo
                ;;
            */\*) ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    kill "$pid"
    wait "$pid" || true
    echo
    echo 'MongoDB init process complete; ready for start up.'
    echo
fi

listen="$bind_ip"
case "$listen" in
    "" | "*" | 0.0.0.0 | ::,0.0.0.0 | 0.0.0.0,::) listen="" ;;  # the official image appends --bind_ip_all
    *,*) listen="${listen%%,*}"; echo >&2 "stand-in: FerretDB listens on one address: $listen" ;;
esac
exec "${ferretdb[@]}" --listen-addr="$listen:$port"
