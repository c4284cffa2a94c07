#!/bin/sh
# The official nginx image's entrypoint contract: for `nginx`, source the executable
# *.envsh and run the executable *.sh files in /docker-entrypoint.d/ (sort -V order).
set -e

log() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*"
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    scripts=$(find /docker-entrypoint.d/ -follow -mindepth 1 -maxdepth 1 -type f | sort -V)
    if [ -n "$scripts" ]; then
        log "/docker-entrypoint.d/ is not empty, will attempt to perform configuration"
        for f in $scripts; do
            case "$f" in
                *.envsh)
                    if [ -x "$f" ]; then log "Sourcing $f"; . "$f"; else log "Ignoring $f, not executable"; fi ;;
                *.sh)
                    if [ -x "$f" ]; then log "Launching $f"; "$f"; else log "Ignoring $f, not executable"; fi ;;
                *) log "Ignoring $f" ;;
            esac
        done
        log "Configuration complete; ready for start up"
    else
        log "No files found in /docker-entrypoint.d/, skipping configuration"
    fi

    # The official binary's workers run as `nginx` when the config names no user;
    # Debian's run as nobody. Name it with -g (nginx keeps only the last -g).
    conf=/etc/nginx/nginx.conf prev= global=
    for arg do
        case "$prev" in -c) conf=$arg ;; -g) global=$arg ;; esac
        prev=$arg
    done
    if ! grep -qsE '^[[:space:]]*user[[:space:]]' "$conf" && ! printf '%s' "$global" | grep -qw user; then
        prev=
        for arg do
            shift
            [ "$prev" = -g ] && arg="$arg user nginx;"
            set -- "$@" "$arg"
            prev=$arg
        done
        [ -n "$global" ] || set -- "$@" -g "user nginx;"
    fi
fi

exec "$@"
