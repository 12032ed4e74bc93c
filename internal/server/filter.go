package server

import (
	"golang.org/x/net/bpf"

	"github.com/a-knock/knock/internal/seq"
)

// Packet types of a packet socket (linux/if_packet.h), seen by the filter
// through the "type" ancillary field.
const pktOutgoing = 4

// snapLen is how much of a packet the filter passes: enough for an IPv4
// header with options or an IPv6 header, and the TCP flags.
const snapLen = 128

// maxFilterPorts is the most ports the filter lists; beyond it the jump
// offsets (8 bits) run out and the filter passes every TCP and UDP packet,
// which the detector then sorts out.
const maxFilterPorts = 200

// knockFilter builds the classic BPF program for a cooked (SOCK_DGRAM)
// packet socket, which sees packets from the network header on: it
// passes incoming IPv4 and IPv6 TCP and UDP packets whose destination
// port is one of the knock ports, and drops everything else in the
// kernel, as knockd's pcap filter does. Flags, addresses and protocols
// are checked again exactly by the detector.
func knockFilter(ks []seq.Knock) ([]bpf.RawInstruction, error) {
	ports := map[uint16]bool{}
	var list []uint16
	for _, k := range ks {
		if !ports[k.Port] {
			ports[k.Port] = true
			list = append(list, k.Port)
		}
	}
	all := len(list) > maxFilterPorts
	if all {
		list = nil
	}
	n := uint8(len(list))
	// Layout, with every jump forward:
	//  0 ld type; 1 jeq outgoing -> reject
	//  2 ld proto; 3 jeq ipv4 -> 5; 4 jeq ipv6 -> v6 else reject
	//  v4: 5 ldb [9]; 6 jeq tcp -> 8; 7 jeq udp else reject
	//      8 ldh [6]; 9 jset 0x1fff -> reject; 10 ldx 4*([0]&0xf)
	//      11 ldh [x+2]; 12 ja ports
	//  v6: 13 ldb [6]; 14 jeq tcp -> 16; 15 jeq udp else reject; 16 ldh [42]
	//  ports: n x jeq port -> accept; reject: ret 0; accept: ret snap
	const v6, portsAt = 13, 17
	reject := uint8(portsAt + int(n))
	accept := reject + 1
	if all {
		// No port list: "ports" is the accept instruction itself.
		reject = portsAt + 1
		accept = portsAt
	}
	skip := func(from int, to uint8) uint8 { return to - uint8(from) - 1 }
	prog := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: pktOutgoing, SkipTrue: skip(1, reject)},
		bpf.LoadExtension{Num: bpf.ExtProto},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipTrue: skip(4, v6), SkipFalse: skip(4, reject)},
		bpf.LoadAbsolute{Off: 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoTCP, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipFalse: skip(7, reject)},
		bpf.LoadAbsolute{Off: 6, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: skip(9, reject)},
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 2, Size: 2},
		bpf.Jump{Skip: uint32(skip(12, portsAt))},
		bpf.LoadAbsolute{Off: 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoTCP, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipFalse: skip(15, reject)},
		bpf.LoadAbsolute{Off: 42, Size: 2},
	}
	for i, p := range list {
		at := portsAt + i
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(p), SkipTrue: skip(at, accept)})
	}
	if all {
		prog = append(prog, bpf.RetConstant{Val: snapLen}, bpf.RetConstant{Val: 0})
	} else {
		prog = append(prog, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: snapLen})
	}
	return bpf.Assemble(prog)
}
