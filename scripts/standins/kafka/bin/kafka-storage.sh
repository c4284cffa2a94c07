#!/bin/sh
# Formats and inspects KRaft log directories.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
