#!/bin/bash
# Runs one class of the Kafka jars in /opt/kafka/libs: kafka-run-class.sh CLASS [ARGS...].
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS and KAFKA_OPTS are honoured.
set -e
if [ $# -lt 1 ]; then
    echo "USAGE: $0 classname [opts]" >&2
    exit 1
fi
home="${KAFKA_HOME:-/opt/kafka}"
# Tools start fast: a small heap, the client compiler, the serial collector.
heap="${KAFKA_HEAP_OPTS:--Xmx256M}"
performance="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true}"
log4j="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$home/config/tools-log4j2.properties}"
# shellcheck disable=SC2086 # the *_OPTS variables hold several options
exec java $heap $performance $log4j ${KAFKA_OPTS:-} -cp "$home/libs/*" "$@"
