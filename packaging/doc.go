// Package packaging holds no code: its tests build the release artefacts
// with build.sh (the .deb and .rpm through nfpm, the Windows zips, the
// macOS tarballs and the Scoop, winget and Homebrew manifests) and check
// what each one contains.
package packaging
