package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

// readmeLimit is the most README.md may weigh (issue 20): the front page
// stays short, the reference lives in docs/.
const readmeLimit = 12 * 1024

// pending are pages that a link may name before they exist: another
// change writes them. Remove an entry once its page has landed.
var pending = map[string]string{}

// pageFiles lists the markdown pages: README.md, CONTRIBUTING.md and
// docs/*.md, relative to the repository.
func pageFiles(t *testing.T) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md", "CONTRIBUTING.md"}
	for _, p := range ps {
		out = append(out, filepath.ToSlash(strings.TrimPrefix(p, repo+"/")))
	}
	return out
}

func readPage(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadmeSize(t *testing.T) {
	st, err := os.Stat(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > readmeLimit {
		t.Errorf("README.md is %d bytes, more than %d: move reference material to docs/", st.Size(), readmeLimit)
	}
}

// TestPagesParse checks every page's markers and regions, and that the
// subject pages of issue 20 exist and are listed in docs/README.md.
func TestPagesParse(t *testing.T) {
	for _, p := range pageFiles(t) {
		if _, err := Parse(readPage(t, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	index := readPage(t, "docs/README.md")
	for _, name := range []string{"knocking", "profiles", "ssh", "spa", "otp", "server", "doctor", "windows", "security", "benchmarks", "exit-codes", "install"} {
		if _, err := os.Stat(filepath.Join(repo, "docs", name+".md")); err != nil {
			t.Errorf("docs/%s.md: %v", name, err)
		}
	}
	ps, _ := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	for _, p := range ps {
		if base := filepath.Base(p); base != "README.md" && !strings.Contains(index, "("+base+")") {
			t.Errorf("docs/README.md does not link docs/%s", base)
		}
	}
}

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)
)

// anchors returns the anchors GitHub gives a page's headings.
func anchors(src string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(stripCode(src), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f:
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// stripCode blanks the fenced code blocks of a page.
func stripCode(src string) string {
	var b strings.Builder
	fence := ""
	for _, l := range strings.SplitAfter(src, "\n") {
		line := strings.TrimRight(l, "\n")
		if fence == "" {
			if f, _, ok := openFence(line); ok {
				fence = f
				b.WriteString("\n")
				continue
			}
			b.WriteString(l)
			continue
		}
		if closesFence(line, fence) {
			fence = ""
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestLinks checks every relative link of the pages: the file exists
// (or is pending), and an #anchor names a heading of its page.
func TestLinks(t *testing.T) {
	for _, p := range pageFiles(t) {
		src := readPage(t, p)
		for _, m := range linkRE.FindAllStringSubmatch(stripCode(src), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := p
			if file != "" {
				target = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(p), file)))
			}
			if _, ok := pending[target]; ok {
				continue
			}
			if _, err := os.Stat(filepath.Join(repo, target)); err != nil {
				t.Errorf("%s: link %q: %s does not exist", p, link, target)
				continue
			}
			if anchor != "" && strings.HasSuffix(target, ".md") && !anchors(readPage(t, target))[anchor] {
				t.Errorf("%s: link %q: no heading #%s in %s", p, link, anchor, target)
			}
		}
	}
}
