// Package lab builds throw-away network labs for end-to-end tests: two
// network namespaces, "client" and "server", joined by a veth pair, with
// IPv4 and IPv6 documentation addresses and no default route, so nothing a
// test sends can leave the machine. It starts real daemons (knockd, sshd,
// fwknopd ...) inside them and tears everything down, processes included,
// when the test ends, whether it passed or not.
//
// NewWAN builds the same lab with a wide-area network in between: a third
// namespace where an emulator in the test process copies Ethernet frames
// from one side to the other with delay, jitter, loss, duplication and
// reordering, per direction and changeable at run time (see wan.go). The
// addresses and every helper stay the same.
//
// Lab tests need root and the daemons' packages. Require fails the test
// when CI=true and something is missing, and skips it otherwise. The
// package is Linux-only; on other systems it is empty.
package lab
