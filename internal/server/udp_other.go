//go:build !windows

package server

import "net"

// ListenUDP opens a UDP knock socket on addr ("host:port"; an empty host
// means every address), to pass in [Options.PacketConns]. Listen mode
// opens its own UDP sockets the same way.
func ListenUDP(addr string) (net.PacketConn, error) {
	return net.ListenPacket("udp", addr)
}
