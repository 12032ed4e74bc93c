package gen

import (
	"fmt"
	"strings"

	"github.com/a-knock/knock/internal/seq"
)

// wellKnown lists ports of 1024 and above that services, scanners and
// tutorials use: a knock there may be answered by a real service, filtered
// by an ISP, or guessed.
var wellKnown = func() map[uint16]bool {
	wellKnown := map[uint16]bool{}
	for _, p := range []uint16{
		1080, 1194, 1241, 1433, 1434, 1521, 1701, 1723, 1812, 1813, 1883, 1900,
		2049, 2082, 2083, 2086, 2087, 2181, 2222, 2375, 2376, 2379, 2380,
		3000, 3128, 3260, 3306, 3333, 3389, 3478, 4000, 4369, 4443, 4444, 4500,
		5000, 5001, 5060, 5061, 5222, 5353, 5355, 5432, 5601, 5672, 5938, 5984,
		6379, 6443, 6697, 7000, 7001, 7070, 8000, 8008, 8009, 8080, 8081,
		8086, 8088, 8443, 8888, 9000, 9001, 9042, 9090, 9091, 9100, 9200, 9300,
		9418, 9443, 10000, 10250, 11211, 12345, 25565, 27017, 31337, 32400,
		51820, 54321, 65535,
	} {
		wellKnown[p] = true
	}
	for p := uint16(5900); p <= 5910; p++ { // VNC
		wellKnown[p] = true
	}
	for p := uint16(6000); p <= 6063; p++ { // X11
		wellKnown[p] = true
	}
	for p := uint16(6660); p <= 6669; p++ { // IRC
		wellKnown[p] = true
	}
	return wellKnown
}()

// WellKnown reports whether port is privileged (below 1024) or a port that
// well-known services or tutorials use (3389, 8080, 7000 ...).
func WellKnown(port uint16) bool {
	return port < LowPort || wellKnown[port]
}

// Avoided reports whether a generated sequence never uses port: well-known,
// a round number (a multiple of 100) or one digit repeated (11111).
func Avoided(port uint16) bool {
	if WellKnown(port) || port%100 == 0 {
		return true
	}
	s := fmt.Sprint(port)
	return strings.Count(s, s[:1]) == len(s)
}

// published lists sequences printed in knockd's documentation and in
// popular tutorials, the seed's among them. Anyone can try them.
var published = []string{
	"7000,8000,9000",
	"9000,8000,7000",
	"2222:udp,3333:tcp,4444:udp",
	"4000,5000,6000",
	"30123,45211,60010",
	"1234,5678,9012",
	"1111,2222,3333",
	"12345,23456,34567",
}

// Weakness returns why s is weak, or "" when it is not: a sequence from
// knockd's documentation or a tutorial (also reversed, with any protocols),
// a repeated port, or ports in steady steps (1000,2000,3000).
func Weakness(s seq.Sequence) string {
	if len(s) == 0 {
		return ""
	}
	ports := portString(s)
	for _, p := range published {
		ps, err := seq.Parse(seq.TCP, p)
		if err != nil {
			continue // the list is constant and valid
		}
		if ports == portString(ps) || ports == portString(ps.Reverse()) {
			return fmt.Sprintf("the published example sequence %s, among the first anyone tries", strings.ReplaceAll(ports, " ", ","))
		}
	}
	seen := map[uint16]bool{}
	for _, k := range s {
		if seen[k.Port] {
			return "a port repeats"
		}
		seen[k.Port] = true
	}
	if len(s) >= 3 {
		step := int(s[1].Port) - int(s[0].Port)
		steady := true
		for i := 2; i < len(s); i++ {
			if int(s[i].Port)-int(s[i-1].Port) != step {
				steady = false
			}
		}
		if steady {
			return fmt.Sprintf("its ports go in steady steps of %d", step)
		}
	}
	n := 0
	for _, k := range s {
		if WellKnown(k.Port) {
			n++
		}
	}
	if n == len(s) {
		return "it uses only privileged or well-known ports"
	}
	return ""
}

// MonotonicRun reports the index of the first knock that ends a run of
// three ports going strictly up or strictly down, or -1.
func MonotonicRun(s seq.Sequence) int {
	for i := 2; i < len(s); i++ {
		a, b, c := s[i-2].Port, s[i-1].Port, s[i].Port
		if (a < b && b < c) || (a > b && b > c) {
			return i
		}
	}
	return -1
}

func portString(s seq.Sequence) string {
	parts := make([]string, len(s))
	for i, k := range s {
		parts[i] = fmt.Sprint(k.Port)
	}
	return strings.Join(parts, " ")
}
