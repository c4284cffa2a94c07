#!/usr/bin/env bash
# The official mysql image's entrypoint contract, for the parts archgen uses, run
# with MariaDB: one of MYSQL_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD /
# MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ROOT_HOST (default %), MYSQL_DATABASE,
# MYSQL_USER + MYSQL_PASSWORD, the _FILE variants, and on first run (no
# <datadir>/mysql) /docker-entrypoint-initdb.d/ (*.sh, *.sql) against a
# socket-only server, so TCP (and `mysqladmin ping -h 127.0.0.1`) opens only after.
set -eo pipefail
shopt -s nullglob

mysql_log() { echo "$(date --rfc-3339=seconds) [Entrypoint]: $*"; }
mysql_error() { mysql_log "ERROR: $*" >&2; exit 1; }

# usage: file_env VAR [DEFAULT] -- VAR or the content of the file named by VAR_FILE
file_env() {
    local var="$1" fileVar="${1}_FILE" def="${2:-}" val
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        mysql_error "Both $var and $fileVar are set (but are exclusive)"
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

# a value of the server's effective configuration: mysql_get_config datadir mysqld ...
mysql_get_config() {
    local conf="$1"; shift
    "$@" --verbose --help 2>/dev/null \
        | awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

docker_setup_env() {
    DATADIR="$(mysql_get_config 'datadir' "$@")"
    DATADIR="${DATADIR%/}"
    SOCKET="$(mysql_get_config 'socket' "$@")"
    file_env 'MYSQL_ROOT_HOST' '%'
    file_env 'MYSQL_DATABASE'
    file_env 'MYSQL_USER'
    file_env 'MYSQL_PASSWORD'
    file_env 'MYSQL_ROOT_PASSWORD'
    DATABASE_ALREADY_EXISTS=
    if [ -d "$DATADIR/mysql" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

docker_verify_minimum_env() {
    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        mysql_error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of the following as an environment variable:\n\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD'
    fi
    if [ "$MYSQL_USER" = 'root' ]; then
        mysql_error 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        mysql_log 'Warning: MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created'
    elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_log 'Warning: MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored'
    fi
}

docker_create_db_directories() {
    mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
    if [ "$(id -u)" = "0" ]; then
        find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql: '{}' +
    fi
}

docker_init_database_dir() {
    mysql_log "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --skip-log-bin > /dev/null
    mysql_log "Database files initialized"
}

# a [client] option file with the root password, for --defaults-extra-file
_mysql_passfile() {
    if [ "$1" != '--dont-use-mysql-root-password' ] && [ -n "$MYSQL_ROOT_PASSWORD" ]; then
        printf '[client]\npassword="%s"\n' "$MYSQL_ROOT_PASSWORD"
    fi
}

# usage: docker_process_sql [--dont-use-mysql-root-password] [mysql-cli-args] < file.sql
docker_process_sql() {
    local passfileArgs=()
    if [ '--dont-use-mysql-root-password' = "$1" ]; then
        passfileArgs+=("$1")
        shift
    fi
    if [ -n "$MYSQL_DATABASE" ]; then
        set -- --database="$MYSQL_DATABASE" "$@"
    fi
    mysql --defaults-extra-file=<(_mysql_passfile "${passfileArgs[@]}") --protocol=socket \
        -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

docker_temp_server_start() {
    "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" &
    MYSQL_PID=$!
    mysql_log "Waiting for server startup"
    local i
    for i in {60..0}; do
        if docker_process_sql --dont-use-mysql-root-password --database=mysql <<< 'SELECT 1' &> /dev/null; then
            break
        fi
        sleep 1
    done
    if [ "$i" = 0 ]; then
        mysql_error "Unable to start server."
    fi
    mysql_log "Temporary server started."
}

docker_temp_server_stop() {
    kill -TERM "$MYSQL_PID"
    wait "$MYSQL_PID"
    mysql_log "Temporary server stopped"
}

docker_sql_escape_string_literal() {
    local newline=$'\n'
    local escaped=${1//\\/\\\\}
    escaped="${escaped//$newline/\\n}"
    echo "${escaped//\'/\\\'}"
}

docker_setup_db() {
    if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        MYSQL_ROOT_PASSWORD="$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
        export MYSQL_ROOT_PASSWORD
        mysql_log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    local rootPassword rootCreate='' createDatabase='' createUser='' userGrants=''
    rootPassword="$(docker_sql_escape_string_literal "$MYSQL_ROOT_PASSWORD")"
    if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != 'localhost' ]; then
        rootCreate="CREATE USER 'root'@'${MYSQL_ROOT_HOST}' IDENTIFIED BY '${rootPassword}';
            GRANT ALL ON *.* TO 'root'@'${MYSQL_ROOT_HOST}' WITH GRANT OPTION;"
    fi
    if [ -n "$MYSQL_DATABASE" ]; then
        mysql_log "Creating database ${MYSQL_DATABASE}"
        createDatabase="CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
    fi
    if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_log "Creating user ${MYSQL_USER}"
        createUser="CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$(docker_sql_escape_string_literal "$MYSQL_PASSWORD")';"
        if [ -n "$MYSQL_DATABASE" ]; then
            mysql_log "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
            userGrants="GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO '$MYSQL_USER'@'%';"
        fi
    fi
    # Only root@localhost (and root@MYSQL_ROOT_HOST) stay, with the password.
    MYSQL_DATABASE='' docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		DROP USER IF EXISTS root@'127.0.0.1', root@'::1', ''@'localhost';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\', \'\'@\'', @@hostname, '\'');
		SET PASSWORD FOR 'root'@'localhost' = PASSWORD('${rootPassword}');
		${rootCreate}
		FLUSH PRIVILEGES;
		${createDatabase}
		${createUser}
		${userGrants}
	EOSQL
}

docker_process_init_files() {
    local f
    for f; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    mysql_log "$0: running $f"
                    "$f"
                else
                    mysql_log "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) mysql_log "$0: running $f"; docker_process_sql < "$f" ;;
            *) mysql_log "$0: ignoring $f" ;;
        esac
    done
}

_main() {
    # a first argument like `--key=value` means: mysqld with these options
    if [ "${1:0:1}" = '-' ]; then
        set -- mysqld "$@"
    fi

    if [ "$1" = 'mysqld' ]; then
        mysql_log "Entrypoint script for the MySQL stand-in (MariaDB) started."
        docker_setup_env "$@"
        docker_create_db_directories
        if [ "$(id -u)" = "0" ]; then
            mysql_log "Switching to dedicated user 'mysql'"
            exec setpriv --reuid=mysql --regid=mysql --init-groups "$BASH_SOURCE" "$@"
        fi

        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            ls /docker-entrypoint-initdb.d/ > /dev/null
            docker_init_database_dir "$@"
            docker_temp_server_start "$@"
            docker_setup_db
            docker_process_init_files /docker-entrypoint-initdb.d/*
            docker_temp_server_stop
            echo
            mysql_log "MySQL init process done. Ready for start up."
            echo
        fi
    fi
    exec "$@"
}

_main "$@"
