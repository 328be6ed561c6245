#!/bin/sh
# The shop's legitimate CGI script: a status page for the operators.
echo "Content-Type: text/plain"
echo
echo "status: ok"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "uptime: $(cut -d' ' -f1 /proc/uptime)"
echo "disk: $(df -P /srv | tail -n 1 | tr -s ' ' | cut -d' ' -f5)"
echo "uploads: $(find /srv/app/uploads -type f | wc -l)"
