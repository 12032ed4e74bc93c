#!/bin/sh
# check-generated.sh regenerates the committed completion scripts in
# completions/ with the knock binary built from this tree and fails when
# they differ from the committed ones. With -w it writes them instead.
#
#   scripts/check-generated.sh      # CI: exit 1 and show a diff when stale
#   scripts/check-generated.sh -w   # update completions/ after a change
set -eu

write=0
case "${1-}" in
-w) write=1 ;;
"") ;;
*) echo "usage: scripts/check-generated.sh [-w]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

CGO_ENABLED=0 go build -trimpath -o "$tmp/knock" ./cmd/knock

stale=0
for pair in bash:knock.bash zsh:_knock fish:knock.fish powershell:knock.ps1; do
	shell=${pair%%:*}
	file=completions/${pair#*:}
	"$tmp/knock" completion "$shell" >"$tmp/out"
	if [ "$write" = 1 ]; then
		cp "$tmp/out" "$file"
		echo "wrote $file"
	elif ! cmp -s "$tmp/out" "$file"; then
		echo "check-generated: $file differs from 'knock completion $shell':" >&2
		diff -u "$file" "$tmp/out" >&2 || true
		stale=1
	fi
done

if [ "$stale" = 1 ]; then
	echo "check-generated: run scripts/check-generated.sh -w and commit completions/" >&2
	exit 1
fi
