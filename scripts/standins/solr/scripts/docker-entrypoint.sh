#!/bin/bash
# The solr image's entrypoint contract: options alone run `solr-foreground` with them;
# solr-foreground, solr-precreate, solr-create and `solr start -f` run Solr in the
# foreground; any other command is run as it is.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then
    set -- solr-foreground "$@"
fi
case "${1:-}" in
    solr)
        shift
        [ "${1:-}" = start ] && shift
        exec solr-foreground "$@"
        ;;
esac
exec "$@"
