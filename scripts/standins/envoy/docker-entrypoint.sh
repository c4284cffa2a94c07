#!/usr/bin/env sh
# The official envoy image's entrypoint contract: ENVOY_UID/ENVOY_GID remap the envoy
# user (ENVOY_UID=0 keeps root), `loglevel` adds --log-level, a first argument that
# starts with '-' runs envoy. The official image drops privileges with su-exec.
set -e

loglevel="${loglevel:-}"
USERID=$(id -u)

if [ "${1#-}" != "$1" ]; then
    set -- envoy "$@"
fi

if [ "$1" = 'envoy' ] && [ -n "$loglevel" ]; then
    set -- "$@" --log-level "$loglevel"
fi

if [ "$ENVOY_UID" != "0" ] && [ "$USERID" = 0 ]; then
    if [ -n "$ENVOY_UID" ]; then
        usermod -u "$ENVOY_UID" envoy
    fi
    if [ -n "$ENVOY_GID" ]; then
        groupmod -g "$ENVOY_GID" envoy
    fi
    # Ensure the envoy user is able to write to container logs
    chown envoy:envoy /dev/stdout /dev/stderr
    exec setpriv --reuid=envoy --regid=envoy --init-groups "$@"
else
    exec "$@"
fi
