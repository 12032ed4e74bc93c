package history

import (
	"os"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if err := Save("web", Record{OK: true, Summary: "open after 40ms", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := Save("db", Record{OK: false, Summary: "port 22 did not open", At: at}); err != nil {
		t.Fatal(err)
	}
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !m["web"].OK || m["db"].OK || !m["web"].At.Equal(at) || len(m) != 2 {
		t.Fatalf("loaded %+v", m)
	}
	p, _ := Path()
	os.WriteFile(p, []byte("{corrupt"), 0o600)
	if _, err := Load(); err == nil {
		t.Fatal("corrupt history loaded without error")
	}
	if err := Save("web", Record{OK: true, At: at}); err != nil {
		t.Fatalf("a corrupt history must be replaced: %v", err)
	}
}
