// Package server is knock's reference port-knocking server, the engine of
// `knock serve`: a small knockd-compatible daemon that reads knockd.conf
// (through package knockdconf) and detects knock sequences with knockd's
// exact semantics (see [Detector]).
//
// It sees knocks in one of two ways. Sniff mode (Linux, root) reads every
// IPv4 and IPv6 packet of an interface through an AF_PACKET socket with a
// BPF filter, as knockd does with libpcap, so knocks to closed or
// firewalled ports count and any TCP flags can be matched. Listen mode
// (any OS, no privilege) binds the knock ports and counts TCP connections
// and UDP datagrams.
//
// When a door opens, its commands run without a shell (argv split once,
// %IP% replaced by the validated source address, each under a timeout),
// and doors with the knock serve extension "gate = open|close" admit the
// knocker to a built-in TCP gate that guards a local service (see [Gate]).
package server
