#!/bin/sh
set -e

# first arg is `-f` or `--some-option`
# or first arg is `something.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

# allow the container to be started with `--user`
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --clear-groups -- "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
    # The official image compiles protected mode out; Debian's binary has it on, so
    # turn it off here unless the config file given says otherwise.
    if [ "${2%.conf}" = "${2:-}" ] || ! grep -qsiE '^[[:space:]]*protected-mode' "$2"; then
        set -- "$@" --protected-mode no
    fi
fi

# set an appropriate umask (if one isn't set already)
um="$(umask)"
if [ "$um" = '0022' ]; then
    umask 0077
fi

exec "$@"
