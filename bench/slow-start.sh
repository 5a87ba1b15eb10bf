#!/bin/sh
# The benchmark's slow-starting subject (bench/slow-subject.json): 150 ms of start-up that uses no CPU,
# as an interpreter shim's start-up waits (issue 17 measured a Python client at about 150 ms a start),
# then the command itself, exec'd so that its pid, process group and signals are the subject's own.
sleep 0.15
exec "$@"
