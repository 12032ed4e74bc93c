#!/bin/sh
# check-generated.sh regenerates, with the knock binary built from this
# tree, what is generated from the program and committed, and fails when
# it differs from the committed files. With -w it writes them instead.
#
#   completions/       knock completion SHELL
#   README.md, docs/   the generated regions (the command reference, from
#                      knock man --json) and docs/img/*.svg (knock demo and
#                      knock pick captured in tmux): scripts/gendocs
#
#   scripts/check-generated.sh      # CI: exit 1 and show a diff when stale
#   scripts/check-generated.sh -w   # update them after a change
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

if [ "$write" = 1 ]; then
	go run ./scripts/gendocs -knock "$tmp/knock" -w
elif ! go run ./scripts/gendocs -knock "$tmp/knock"; then
	stale=1
fi

if [ "$stale" = 1 ]; then
	echo "check-generated: run scripts/check-generated.sh -w and commit the result" >&2
	exit 1
fi
