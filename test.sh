#!/usr/bin/env bash
# test.sh: every check CI runs (.ci/run calls exactly this). Run as root:
# the end-to-end tests build network namespaces and run the real knockd,
# fwknopd, sshd, iptables and gnome-keyring in them. It installs the Debian
# packages it needs first.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
# The lab tests fail instead of skipping when a prerequisite is missing
# (internal/lab.Require), also when this runs outside CI (sudo drops CI).
export CI=true

step() { printf '\n== %s\n' "$*"; }

# tool:package pairs; a tool missing from PATH installs its package.
needs=(
	knockd:knockd knock:knockd fwknopd:fwknop-server fwknop:fwknop-client gpg:gpg gpgconf:gpgconf gpg-agent:gpg-agent
	sshd:openssh-server ssh:openssh-client scp:openssh-client rsync:rsync git:git
	iptables:iptables ip6tables:iptables ip:iproute2 nft:nftables
	dbus-run-session:dbus dbus-daemon:dbus gnome-keyring-daemon:gnome-keyring
	secret-tool:libsecret-tools tmux:tmux socat:socat hyperfine:hyperfine
	script:bsdutils setpriv:util-linux flock:util-linux unshare:util-linux python3:python3-minimal dpkg-deb:dpkg groff:groff-base gcc:gcc zip:zip unzip:unzip rpm:rpm rpm2archive:rpm2cpio
	wine:wine wineboot:wine wineserver:wine /usr/lib/wine/wine64:wine64 x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64
)
missing=()
for pair in "${needs[@]}"; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	step "installing: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: needs root to install packages and build network namespaces (sudo ./test.sh)" >&2
		exit 2
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2046
	apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

step "go vet"
go vet ./...

step "go mod tidy"
go mod tidy -diff

step "staticcheck"
go tool staticcheck ./...

if [ -x scripts/check-generated.sh ]; then
	step "generated files (completions, man page)"
	scripts/check-generated.sh
fi

step "cross builds (CGO_ENABLED=0)"
for os in linux darwin windows freebsd; do
	for arch in amd64 arm64; do
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath ./...
		echo "ok $os/$arch"
	done
done

step "fuzz (a few seconds per target)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for fz in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		# A crasher is saved under testdata/fuzz and fails the rerun as well;
		# a fuzz worker that the loaded machine let time out does not.
		if ! out=$(go test -run='^$' -fuzz="^${fz}\$" -fuzztime="${FUZZTIME:-3s}" "$pkg" 2>&1); then
			echo "$out" | tail -20
			echo "retrying $fz once"
			go test -run='^$' -fuzz="^${fz}\$" -fuzztime="${FUZZTIME:-3s}" "$pkg" >/dev/null
		fi
		echo "ok $fz ($pkg)"
	done
done

step "tests (race detector, real daemons in network namespaces)"
go test -race -count=1 -timeout 45m -skip '^TestWineLab$' ./...

# wine's console drops keys when the machine is busy: the Windows lab runs
# alone, after the rest (it never skips in CI).
step "tests: knock.exe under wine"
go test -race -count=1 -timeout 15m -run '^TestWineLab$' ./cmd/knock
