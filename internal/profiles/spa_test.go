package profiles

import (
	"reflect"
	"testing"
	"time"

	"github.com/a-knock/knock/internal/spa"
)

// Every option of an SPA request survives a save: into the profile, its
// JSON record, and back.
func TestSPAConfigRoundTrip(t *testing.T) {
	keys, err := spa.ParseKeys("wzNP62oPPgEc+kXDPQLHPOayQBuNbYUTPP+QrErNDmg=", "Yh+xizBnl6FotC5ec7FanVGClRMlsOAPh2u6eovnerfBVKwaVKzjGoblFMHMc593TNyi0dWn4opLoTIV9q/ttg==")
	if err != nil {
		t.Fatal(err)
	}
	want := spa.Options{
		Access:     []string{"tcp/22", "udp/53"},
		AllowIP:    "198.51.100.7",
		Port:       62202,
		Proto:      "tcp",
		FWTimeout:  45,
		TimeOffset: -90 * time.Second,
		NAT:        "192.0.2.10,2222",
		User:       "alice",
		Keys:       keys,
	}
	p := &Profile{Name: "fw", Kind: KindSPA, SPA: NewSPAConfig(want)}
	b, err := EncodeList([]*Profile{p})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := DecodeList(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ps[0].SPA.Options()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after a save:\n got %+v\nwant %+v", got, want)
	}
	// Every field of spa.Options is compared above: a new option must be
	// kept too.
	if n := reflect.TypeOf(spa.Options{}).NumField(); n != 9 {
		t.Errorf("spa.Options has %d fields; extend this test and SPAConfig", n)
	}
}
