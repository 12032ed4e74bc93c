#!/bin/sh
# build.sh builds knock's release artefacts into OUTDIR:
#
#   packaging/build.sh deb|rpm|windows|darwin|all OUTDIR
#
#   deb      knock_VERSION_ARCH.deb            (nfpm; ARCHES, default amd64 arm64)
#   rpm      knock-VERSION-1.RPMARCH.rpm       (nfpm; ARCHES, default amd64 arm64)
#   windows  knock_VERSION_windows_ARCH.zip    (knock.exe, knock.ps1, README.txt)
#   darwin   knock_VERSION_darwin_ARCH.tar.gz  (amd64 and arm64)
#   all      all of the above, then checksums.txt and the Scoop, winget and
#            Homebrew manifests filled in with this version's hashes
#
# Binaries are static (CGO_ENABLED=0) and built with -trimpath. The version
# comes from $VERSION, else `git describe`, else 0.0.0; the date from
# $SOURCE_DATE_EPOCH, else the last commit, so that a rebuild is identical.
# nfpm runs through the Go toolchain: no nfpm install needed.
set -eu

NFPM=${NFPM:-github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}

usage() {
	echo "usage: packaging/build.sh deb|rpm|windows|darwin|all OUTDIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
target=$1
case "$target" in deb | rpm | windows | darwin | all) ;; *) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$2"
out=$(cd "$2" && pwd)
cd "$root"

# Between tags, git describe says v1.2.3-4-gabcdef: packaged as 1.2.3+4.gabcdef,
# which deb and rpm both sort after 1.2.3.
VERSION=${VERSION:-$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/-/+/; s/-/./g' || true)}
VERSION=${VERSION#v}
VERSION=${VERSION:-0.0.0}
case "$VERSION" in [0-9]*) ;; *)
	echo "build.sh: version $VERSION does not start with a digit" >&2
	exit 2
	;;
esac
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
	date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
ARCHES=${ARCHES:-amd64 arm64}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# gobuild GOOS GOARCH OUTPUT
gobuild() {
	GOOS=$1 GOARCH=$2 CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE" \
		-o "$3" ./cmd/knock
}

# The completion scripts and the man page come from a binary for this
# machine: they are the same for every target.
docs=$work/docs
mkdir -p "$docs/completions"
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE" \
	-o "$work/host-knock" ./cmd/knock
"$work/host-knock" completion bash >"$docs/completions/knock.bash"
"$work/host-knock" completion zsh >"$docs/completions/_knock"
"$work/host-knock" completion fish >"$docs/completions/knock.fish"
"$work/host-knock" completion powershell >"$docs/completions/knock.ps1"
"$work/host-knock" man >"$docs/knock.1"
gzip -9n <"$docs/knock.1" >"$docs/knock.1.gz"
cp README.md "$docs/README.md"

# Archive members get the commit's time, so archives are reproducible.
stamp() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + 2>/dev/null || true; }

# nfpmpkg deb|rpm
nfpmpkg() {
	for arch in $ARCHES; do
		stage=$work/$1-$arch
		mkdir -p "$stage/completions"
		gobuild linux "$arch" "$stage/knock"
		cp "$docs/completions/knock.bash" "$docs/completions/_knock" "$docs/completions/knock.fish" "$stage/completions/"
		cp "$docs/knock.1.gz" "$docs/README.md" "$stage/"
		stamp "$stage"
		case "$1" in
		deb) file=knock_${VERSION}_$arch.deb ;;
		rpm)
			case "$arch" in amd64) ra=x86_64 ;; arm64) ra=aarch64 ;; *) ra=$arch ;; esac
			file=knock-$VERSION-1.$ra.rpm
			;;
		esac
		(cd "$stage" && ARCH=$arch VERSION=$VERSION go run "$NFPM" pkg \
			--config "$here/nfpm.yaml" --packager "$1" --target "$out/$file")
	done
}

windows() {
	for arch in amd64 arm64; do
		stage=$work/windows-$arch
		mkdir -p "$stage"
		gobuild windows "$arch" "$stage/knock.exe"
		cp "$docs/completions/knock.ps1" "$stage/"
		# Windows users open text files in Notepad: CRLF line ends.
		sed 's/\r*$/\r/' "$here/windows/README.txt" >"$stage/README.txt"
		stamp "$stage"
		file=$out/knock_${VERSION}_windows_$arch.zip
		rm -f "$file"
		(cd "$stage" && zip -q -X "$file" knock.exe knock.ps1 README.txt)
	done
}

darwin() {
	for arch in amd64 arm64; do
		stage=$work/darwin-$arch
		mkdir -p "$stage/completions"
		gobuild darwin "$arch" "$stage/knock"
		cp "$docs/completions/knock.bash" "$docs/completions/_knock" "$docs/completions/knock.fish" "$stage/completions/"
		cp "$docs/knock.1" "$docs/README.md" "$stage/"
		stamp "$stage"
		(cd "$stage" && tar -cf - --owner=0 --group=0 --numeric-owner --sort=name \
			knock knock.1 README.md completions | gzip -9n >"$out/knock_${VERSION}_darwin_$arch.tar.gz")
	done
}

# manifests renders the Scoop, winget and Homebrew manifests with this
# version and the hashes of the artefacts in OUTDIR.
manifests() {
	sum() { sha256sum "$out/$1" | cut -d' ' -f1; }
	m=$out/manifests
	mkdir -p "$m/scoop" "$m/winget" "$m/homebrew"
	subst="s/@VERSION@/$VERSION/g"
	subst="$subst;s/@SHA256_WINDOWS_AMD64@/$(sum "knock_${VERSION}_windows_amd64.zip")/g"
	subst="$subst;s/@SHA256_WINDOWS_ARM64@/$(sum "knock_${VERSION}_windows_arm64.zip")/g"
	subst="$subst;s/@SHA256_DARWIN_AMD64@/$(sum "knock_${VERSION}_darwin_amd64.tar.gz")/g"
	subst="$subst;s/@SHA256_DARWIN_ARM64@/$(sum "knock_${VERSION}_darwin_arm64.tar.gz")/g"
	sed "$subst" "$here/scoop/knock.json" >"$m/scoop/knock.json"
	sed "$subst" "$here/homebrew/knock.rb" >"$m/homebrew/knock.rb"
	for f in "$here"/winget/*.yaml; do
		sed "$subst" "$f" >"$m/winget/$(basename "$f")"
	done
}

checksums() {
	(cd "$out" && find . -maxdepth 1 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.zip' -o -name '*.tar.gz' \) |
		sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum >checksums.txt)
}

case "$target" in
deb | rpm) nfpmpkg "$target" ;;
windows) windows ;;
darwin) darwin ;;
all)
	nfpmpkg deb
	nfpmpkg rpm
	windows
	darwin
	checksums
	manifests
	;;
esac
echo "build.sh: $target $VERSION -> $out" >&2
