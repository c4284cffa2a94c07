#!/usr/bin/env bash
# The official postgres image's entrypoint contract, for the parts archgen uses:
# POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER,
# POSTGRES_DB, POSTGRES_INITDB_ARGS, PGDATA, the _FILE variants, and on first run
# initdb plus /docker-entrypoint-initdb.d/ (*.sh, *.sql) against a socket-only server.
set -Eeo pipefail

# usage: file_env VAR [DEFAULT] -- VAR or the content of the file named by VAR_FILE
file_env() {
    local var="$1" fileVar="${1}_FILE" def="${2:-}" val
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
        exit 1
    fi
    val="$def"
    if [ "${!var:-}" ]; then
        val="${!var}"
    elif [ "${!fileVar:-}" ]; then
        val="$(< "${!fileVar}")"
    fi
    export "$var"="$val"
    unset "$fileVar"
}

docker_setup_env() {
    file_env 'POSTGRES_PASSWORD'
    file_env 'POSTGRES_USER' 'postgres'
    file_env 'POSTGRES_DB' "$POSTGRES_USER"
    file_env 'POSTGRES_INITDB_ARGS'
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    DATABASE_ALREADY_EXISTS=
    if [ -s "$PGDATA/PG_VERSION" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

docker_verify_minimum_env() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
        cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
        exit 1
    fi
}

docker_create_db_directories() {
    local user; user="$(id -u)"
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql || :
    chmod 03775 /var/run/postgresql || :
    if [ "$user" = '0' ]; then
        find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
        find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    fi
}

docker_init_database_dir() {
    # shellcheck disable=SC2086
    eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'
}

pg_setup_hba_conf() {
    if [ "$1" = 'postgres' ]; then
        shift
    fi
    # default to the method password_encryption names (scram-sha-256 since PG 14)
    if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
        POSTGRES_HOST_AUTH_METHOD="$(postgres -C password_encryption "$@")"
    fi
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
}

docker_temp_server_start() {
    if [ "$1" = 'postgres' ]; then
        shift
    fi
    set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
    PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

docker_temp_server_stop() {
    PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

docker_process_sql() {
    local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ -n "$POSTGRES_DB" ]; then
        query_runner+=(--dbname "$POSTGRES_DB")
    fi
    PGHOST= PGHOSTADDR= "${query_runner[@]}" "$@"
}

docker_setup_db() {
    local dbAlreadyExists
    dbAlreadyExists="$(POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
    )"
    if [ -z "$dbAlreadyExists" ]; then
        POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
        echo
    fi
}

docker_process_init_files() {
    local f
    for f; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    echo "$0: running $f"
                    "$f"
                else
                    echo "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) echo "$0: running $f"; docker_process_sql -f "$f"; echo ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
}

_main() {
    # a first argument like `-c key=value` means: postgres with these options
    if [ "${1:0:1}" = '-' ]; then
        set -- postgres "$@"
    fi

    if [ "$1" = 'postgres' ]; then
        docker_setup_env
        docker_create_db_directories
        if [ "$(id -u)" = '0' ]; then
            # as root: fix ownership above, then run this script again as postgres
            exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
        fi

        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            ls /docker-entrypoint-initdb.d/ > /dev/null
            docker_init_database_dir
            pg_setup_hba_conf "$@"

            export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
            docker_temp_server_start "$@"
            docker_setup_db
            docker_process_init_files /docker-entrypoint-initdb.d/*
            docker_temp_server_stop
            unset PGPASSWORD

            echo
            echo 'PostgreSQL init process complete; ready for start up.'
            echo
        else
            echo
            echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
            echo
        fi
    fi

    exec "$@"
}

_main "$@"
