//go:build linux

package packaging

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/lab"
)

// The build's identity, fixed so that the artefacts can be checked.
const (
	testVersion = "1.2.3"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testEpoch   = "1767225600" // 2026-01-01T00:00:00Z
	testDate    = "2026-01-01T00:00:00Z"
	wantVersion = "knock 1.2.3 (commit 0123456789ab, built 2026-01-01T00:00:00Z)"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildLog  []byte
	buildErr  error
)

// artefacts runs `build.sh all` once per test process (deb and rpm for
// this machine's architecture only, to save time) and returns OUTDIR.
func artefacts(t *testing.T) string {
	t.Helper()
	root := lab.ModuleRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "knock-packages-")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, "sh", filepath.Join(root, "packaging", "build.sh"), "all", buildDir)
		c.Env = append(os.Environ(),
			"VERSION=v"+testVersion, "COMMIT="+testCommit, "SOURCE_DATE_EPOCH="+testEpoch,
			"ARCHES="+runtime.GOARCH)
		buildLog, buildErr = c.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("packaging/build.sh all: %v\n%s", buildErr, buildLog)
	}
	return buildDir
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// commonFiles are installed by both the .deb and the .rpm.
var commonFiles = []string{
	"/usr/bin/knock",
	"/usr/share/bash-completion/completions/knock",
	"/usr/share/doc/knock/README.md",
	"/usr/share/fish/vendor_completions.d/knock.fish",
	"/usr/share/man/man1/knock.1.gz",
}

func TestPackageDeb(t *testing.T) {
	lab.Require(t, "dpkg-deb", "groff")
	deb := filepath.Join(artefacts(t), "knock_"+testVersion+"_"+runtime.GOARCH+".deb")

	fields := map[string]string{}
	for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Description",
		"Homepage", "Section", "Conflicts", "Replaces", "Breaks"} {
		fields[f] = strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, f))
	}
	for f, want := range map[string]string{
		"Package": "knock", "Version": testVersion + "-1", "Architecture": runtime.GOARCH,
		"Homepage": "https://github.com/a-knock/knock", "Section": "net",
	} {
		if fields[f] != want {
			t.Errorf("control field %s = %q, want %q", f, fields[f], want)
		}
	}
	if fields["Maintainer"] == "" || fields["Description"] == "" {
		t.Errorf("control lacks Maintainer or Description: %q", fields)
	}
	// knockd ships /usr/bin/knock: we conflict with it, and never declare
	// Replaces, which would let dpkg overwrite its files silently.
	if !slices.Contains(depNames(fields["Conflicts"]), "knockd") {
		t.Errorf("Conflicts = %q, want knockd", fields["Conflicts"])
	}
	if slices.Contains(depNames(fields["Replaces"]), "knockd") || slices.Contains(depNames(fields["Breaks"]), "knockd") {
		t.Errorf("Replaces %q / Breaks %q name knockd: dpkg would take over its /usr/bin/knock", fields["Replaces"], fields["Breaks"])
	}

	var files []string
	for _, l := range strings.Split(run(t, "dpkg-deb", "-c", deb), "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && !strings.HasPrefix(f[0], "d") {
			files = append(files, strings.TrimPrefix(f[5], "."))
			if f[1] != "root/root" {
				t.Errorf("%s owned by %s, want root/root", f[5], f[1])
			}
			if f[5] == "./usr/bin/knock" && f[0] != "-rwxr-xr-x" {
				t.Errorf("/usr/bin/knock mode %s, want -rwxr-xr-x", f[0])
			}
		}
	}
	want := append(slices.Clone(commonFiles), "/usr/share/zsh/vendor-completions/_knock")
	slices.Sort(want)
	slices.Sort(files)
	if !slices.Equal(files, want) {
		t.Errorf("deb files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}

	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, dir)
	checkInstalled(t, dir, "/usr/share/zsh/vendor-completions/_knock")

	// When knockd is installed, as in CI, dpkg must refuse our package.
	if exec.Command("dpkg", "-s", "knockd").Run() == nil {
		out, err := exec.Command("dpkg", "--dry-run", "-i", deb).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "conflicts with knockd") {
			t.Errorf("dpkg --dry-run -i with knockd installed: %v\n%s\nwant a refusal naming the conflict", err, out)
		}
	}
}

// depNames returns the package names of a dependency field.
func depNames(field string) []string {
	var names []string
	for _, d := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == '|' }) {
		if f := strings.Fields(d); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func TestPackageRpm(t *testing.T) {
	lab.Require(t, "rpm", "rpm2archive", "groff")
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	rpm := filepath.Join(artefacts(t), "knock-"+testVersion+"-1."+arch+".rpm")

	info := run(t, "rpm", "-qp", "--queryformat", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{URL}|%{LICENSE}\n", rpm)
	if want := "knock|" + testVersion + "|1|" + arch + "|https://github.com/a-knock/knock|MIT"; strings.TrimSpace(info) != want {
		t.Errorf("rpm header %q, want %q", strings.TrimSpace(info), want)
	}
	files := strings.Fields(run(t, "rpm", "-qpl", rpm))
	want := append(slices.Clone(commonFiles), "/usr/share/zsh/site-functions/_knock")
	slices.Sort(want)
	var got []string
	for _, f := range files {
		// rpm lists the directories nfpm creates too; keep the files.
		if slices.Contains(want, f) || !isDirOf(f, want) {
			got = append(got, f)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("rpm files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	dir := t.TempDir()
	c := exec.Command("sh", "-c", `rpm2archive - <"$1" | tar -xzf - -C "$2"`, "sh", rpm, dir)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("rpm2archive | tar: %v\n%s", err, out)
	}
	checkInstalled(t, dir, "/usr/share/zsh/site-functions/_knock")
}

func isDirOf(dir string, files []string) bool {
	for _, f := range files {
		if strings.HasPrefix(f, dir+"/") {
			return true
		}
	}
	return false
}

// checkInstalled runs the extracted binary and renders the man page.
func checkInstalled(t *testing.T, root, zsh string) {
	t.Helper()
	bin := filepath.Join(root, "usr", "bin", "knock")
	if got := strings.TrimSpace(run(t, bin, "--version")); got != wantVersion {
		t.Errorf("knock --version = %q, want %q", got, wantVersion)
	}
	for shell, path := range map[string]string{
		"bash": "/usr/share/bash-completion/completions/knock",
		"zsh":  zsh,
		"fish": "/usr/share/fish/vendor_completions.d/knock.fish",
	} {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if run(t, bin, "completion", shell) != string(b) {
			t.Errorf("%s is not what `knock completion %s` prints", path, shell)
		}
	}
	gz, err := os.ReadFile(filepath.Join(root, "usr", "share", "man", "man1", "knock.1.gz"))
	if err != nil {
		t.Fatal(err)
	}
	renderMan(t, gunzip(t, gz))
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// renderMan formats a man page with groff and checks that it names every
// section and subcommand and renders without a warning.
func renderMan(t *testing.T, page []byte) {
	t.Helper()
	c := exec.Command("groff", "-man", "-Tutf8", "-ww", "-P-c", "-P-b", "-P-o", "-P-u")
	c.Stdin = bytes.NewReader(page)
	c.Env = append(os.Environ(), "MANWIDTH=80")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("groff: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("groff warnings:\n%s", stderr.String())
	}
	// Strip the overstrike groff uses for bold in terminal output.
	text := regexp.MustCompile(".\b").ReplaceAllString(stdout.String(), "")
	for _, want := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXAMPLES",
		"EXIT STATUS", "SEE ALSO", "knock completion", "knock ssh", "knock profile", "--version", "130"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered man page lacks %q", want)
		}
	}
	if !strings.Contains(text, "1.2.3") || !strings.Contains(text, "2026-01-01") {
		t.Errorf("man page footer lacks the version or date:\n%s", lastLines(text, 3))
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

func TestPackageWindows(t *testing.T) {
	out := artefacts(t)
	ps1, err := os.ReadFile(filepath.Join(lab.ModuleRoot(t), "completions", "knock.ps1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			zr, err := zip.OpenReader(filepath.Join(out, "knock_"+testVersion+"_windows_"+arch+".zip"))
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			files := map[string][]byte{}
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				files[f.Name], err = io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := keys(files); !slices.Equal(got, []string{"README.txt", "knock.exe", "knock.ps1"}) {
				t.Fatalf("zip holds %q", got)
			}
			if !bytes.HasPrefix(files["knock.exe"], []byte("MZ")) {
				t.Error("knock.exe is not a PE executable")
			}
			if !bytes.Equal(files["knock.ps1"], ps1) {
				t.Error("knock.ps1 differs from completions/knock.ps1")
			}
			readme := string(files["README.txt"])
			if !strings.Contains(readme, "\r\n") || !strings.Contains(readme, "telnet") {
				t.Error("README.txt lacks CRLF line ends or the telnet section")
			}
		})
	}
}

func TestPackageDarwin(t *testing.T) {
	out := artefacts(t)
	for arch, magic := range map[string][]byte{
		"amd64": {0xcf, 0xfa, 0xed, 0xfe, 0x07, 0x00, 0x00, 0x01},
		"arm64": {0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01},
	} {
		t.Run(arch, func(t *testing.T) {
			f, err := os.Open(filepath.Join(out, "knock_"+testVersion+"_darwin_"+arch+".tar.gz"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(zr)
			files := map[string][]byte{}
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if h.Typeflag != tar.TypeReg {
					continue
				}
				if h.Name == "knock" && h.Mode&0o111 == 0 {
					t.Error("knock is not executable in the tarball")
				}
				if files[h.Name], err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"README.md", "completions/_knock", "completions/knock.bash", "completions/knock.fish", "knock", "knock.1"}
			if got := keys(files); !slices.Equal(got, want) {
				t.Fatalf("tarball holds %q, want %q", got, want)
			}
			if !bytes.HasPrefix(files["knock"], magic) {
				t.Errorf("knock is not a Mach-O %s executable", arch)
			}
			if !bytes.Contains(files["knock.1"], []byte(".SH EXIT STATUS")) {
				t.Error("knock.1 is not the man page")
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// sums reads checksums.txt and checks each line against the file.
func sums(t *testing.T, out string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q", sc.Text())
		}
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("checksums.txt: %s does not match", name)
		}
		m[name] = sum
	}
	return m
}

func TestPackageManifests(t *testing.T) {
	out := artefacts(t)
	sum := sums(t, out)
	zip64 := "knock_" + testVersion + "_windows_amd64.zip"
	zipArm := "knock_" + testVersion + "_windows_arm64.zip"
	url := "https://github.com/a-knock/knock/releases/download/v" + testVersion + "/"

	t.Run("scoop", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(out, "manifests", "scoop", "knock.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Version, Description, Homepage, License, Bin string
			Architecture                                 map[string]struct{ URL, Hash string }
			Checkver                                     any
			Autoupdate                                   map[string]any
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Version != testVersion || m.Description == "" || m.Homepage == "" || m.License == "" || m.Bin != "knock.exe" || m.Checkver == nil || m.Autoupdate == nil {
			t.Errorf("scoop manifest lacks a field: %+v", m)
		}
		for arch, zip := range map[string]string{"64bit": zip64, "arm64": zipArm} {
			if a := m.Architecture[arch]; a.URL != url+zip || a.Hash != sum[zip] {
				t.Errorf("scoop %s = %+v, want %s %s", arch, a, url+zip, sum[zip])
			}
		}
	})

	t.Run("winget", func(t *testing.T) {
		dir := filepath.Join(out, "manifests", "winget")
		files := map[string]map[string]string{}
		for _, name := range []string{"a-knock.knock.yaml", "a-knock.knock.installer.yaml", "a-knock.knock.locale.en-US.yaml"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[name] = yamlScalars(string(b))
		}
		for name, kv := range files {
			if kv["PackageIdentifier"] != "a-knock.knock" || kv["PackageVersion"] != testVersion || kv["ManifestVersion"] != "1.6.0" {
				t.Errorf("%s: identity fields %q", name, kv)
			}
		}
		need := map[string][]string{
			"a-knock.knock.yaml":              {"DefaultLocale", "ManifestType=version"},
			"a-knock.knock.installer.yaml":    {"InstallerType=zip", "NestedInstallerType=portable", "ManifestType=installer"},
			"a-knock.knock.locale.en-US.yaml": {"PackageLocale=en-US", "Publisher", "PackageName", "License", "ShortDescription", "ManifestType=defaultLocale"},
		}
		for name, keys := range need {
			for _, k := range keys {
				k, v, hasV := strings.Cut(k, "=")
				if got, ok := files[name][k]; !ok || hasV && got != v {
					t.Errorf("%s: %s = %q, want %q", name, k, got, v)
				}
			}
		}
		inst, _ := os.ReadFile(filepath.Join(dir, "a-knock.knock.installer.yaml"))
		for _, zip := range []string{zip64, zipArm} {
			if !strings.Contains(string(inst), "InstallerUrl: "+url+zip+"\n    InstallerSha256: \""+sum[zip]+"\"") {
				t.Errorf("installer manifest lacks %s with its hash", zip)
			}
		}
	})

	t.Run("homebrew", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(out, "manifests", "homebrew", "knock.rb"))
		if err != nil {
			t.Fatal(err)
		}
		rb := string(b)
		for _, want := range []string{"class Knock < Formula", "desc \"", "homepage \"", "license \"",
			`version "` + testVersion + `"`, "def install", "test do", `bin.install "knock"`, `man1.install "knock.1"`} {
			if !strings.Contains(rb, want) {
				t.Errorf("formula lacks %q", want)
			}
		}
		for _, arch := range []string{"amd64", "arm64"} {
			tgz := "knock_" + testVersion + "_darwin_" + arch + ".tar.gz"
			if !strings.Contains(rb, `url "`+url+tgz+`"`+"\n      sha256 \""+sum[tgz]+`"`) {
				t.Errorf("formula lacks %s with its hash", tgz)
			}
		}
	})

	// Every placeholder of the templates was filled in.
	err := filepath.WalkDir(filepath.Join(out, "manifests"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && regexp.MustCompile(`@[A-Z0-9_]+@`).Match(b) {
			t.Errorf("%s keeps a placeholder", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// yamlScalars reads the top-level "Key: value" lines of a YAML file, enough
// for the flat winget manifests.
func yamlScalars(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if l == "" || l[0] == ' ' || l[0] == '#' || l[0] == '-' {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		m[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return m
}
