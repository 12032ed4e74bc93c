package quietterm

import "testing"

func TestDark(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "15;0": true, "0;15": false, "0;7": false, "15;8": true,
		"12;default;0": true, "0;default;15": false, "garbage": true, "1;99": true,
	} {
		if got := Dark(in); got != want {
			t.Errorf("Dark(%q) = %v, want %v", in, got, want)
		}
	}
}
