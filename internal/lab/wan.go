//go:build linux

package lab

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A WAN lab puts an emulated wide-area network between client and server.
//
// The kernel here has no netem, so the emulator runs in the test process.
// A third namespace, Mid, holds the far ends of the client's and the
// server's veths; in it, an AF_PACKET socket on each of the two copies
// every Ethernet frame to the other after the direction's Impairment
// (delay, jitter, loss, duplication, reordering). The middle namespace has
// no addresses, no IPv6 and does not route, so it is a bridge that only
// the emulator crosses: client and server keep their addresses, one /24
// and one /64, and every helper of a plain lab works unchanged.
//
// The sockets are opened by a thread that has entered Mid (InNamespace) and
// stay bound to its interfaces, so the emulator runs in any namespace. Each
// direction has a goroutine locked to its own thread at real-time priority
// (else nice -20) that blocks in ppoll until a frame comes or the next one
// is due, so frames leave on time even when the machine is busy; a Go
// timer or netpoller wake-up can come 100 ms late there. Cleanup writes an
// eventfd that both threads poll, waits for them to end, then closes the
// sockets. The queue of each direction is bounded (queueLimit, queueBytes).
// NewWAN adds two to GOMAXPROCS, once per process, so that a thread back
// from ppoll finds a P free to run on.
//
// The veths at the client and server compute checksums and segment TCP
// themselves (offloads off): a frame in flight must be a real frame, and
// the emulator cannot finish a partial checksum or cut up a 64 KB
// segment. (A jumbo frame that still slips through, say from AccECN
// segmentation, which the legacy ethtool calls leave on, fails to send and
// counts in WANStats.Errors.)

// WANConfig configures a WAN lab.
type WANConfig struct {
	ClientToServer, ServerToClient Impairment
	// Seed seeds the emulator's random draws; zero picks one at random.
	// It is logged, and KNOCK_LAB_WAN_SEED in the environment overrides
	// it, to replay a failed run.
	Seed uint64
}

// SeedEnv is the environment variable that overrides WANConfig.Seed.
const SeedEnv = "KNOCK_LAB_WAN_SEED"

// Symmetric returns a WANConfig that impairs both directions alike.
func Symmetric(im Impairment) WANConfig {
	return WANConfig{ClientToServer: im, ServerToClient: im}
}

var spareProcs sync.Once

// WAN is a lab whose client and server talk through the emulator.
type WAN struct {
	*Lab
	Seed  uint64 // seed of the emulator's random draws
	links [2]*wanLink
	wg    sync.WaitGroup

	fdMu   sync.Mutex // guards fds and closed
	fds    []int      // packet sockets on the middle veths, then the stop eventfd
	closed bool
}

// wanLink is one direction: frames read from socket in go out on out.
type wanLink struct {
	dir           Dir
	in, out, stop int

	mu  sync.Mutex // guards imp and m
	imp Impairment
	m   *impairer
}

// NewWAN creates a lab whose client and server talk through an emulator
// with the impairments of cfg, which SetImpairment changes at run time.
// Namespaces, sockets and threads go at cleanup.
func NewWAN(t testing.TB, cfg WANConfig) *WAN {
	t.Helper()
	for _, im := range []Impairment{cfg.ClientToServer, cfg.ServerToClient} {
		if err := im.validate(); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	seed := cfg.Seed
	if s := os.Getenv(SeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("lab: %s=%q: %v", SeedEnv, s, err)
		}
		seed = v
	}
	for seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		seed = binary.LittleEndian.Uint64(b[:])
	}
	// The emulator's threads wake on time, but need a P to run Go code;
	// spare Ps spare them the wait for one held by a thread that the
	// kernel has put aside on a busy machine.
	spareProcs.Do(func() { runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 2) })
	l := newLab(t, true)
	w := &WAN{Lab: l, Seed: seed}
	t.Cleanup(func() { w.stop(t) })
	mc, ms := midIfs(l)
	err := InNamespace(l.Mid, func() error {
		for _, name := range []string{mc, ms} {
			fd, err := openPacket(name)
			if err != nil {
				return err
			}
			w.fds = append(w.fds, fd)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("lab: WAN emulator: %v", err)
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatalf("lab: WAN emulator: eventfd: %v", err)
	}
	w.fds = append(w.fds, stop)
	w.links[ClientToServer] = &wanLink{dir: ClientToServer, in: w.fds[0], out: w.fds[1], stop: stop,
		imp: cfg.ClientToServer, m: newImpairer(seed, ClientToServer)}
	w.links[ServerToClient] = &wanLink{dir: ServerToClient, in: w.fds[1], out: w.fds[0], stop: stop,
		imp: cfg.ServerToClient, m: newImpairer(seed, ServerToClient)}
	sched := make(chan string, len(w.links))
	for _, k := range w.links {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			k.run(sched)
		}()
	}
	policy := <-sched
	if p := <-sched; p != policy {
		policy += ", " + p
	}
	t.Logf("lab: WAN seed %d (%s=%d replays it), emulator threads %s; %s: %s; %s: %s", seed, SeedEnv, seed, policy,
		ClientToServer, cfg.ClientToServer, ServerToClient, cfg.ServerToClient)
	return w
}

// SetImpairment changes what the emulator does to frames of direction d
// from now on. Frames already queued keep their send times.
func (w *WAN) SetImpairment(d Dir, im Impairment) error {
	if d != ClientToServer && d != ServerToClient {
		return fmt.Errorf("wan: unknown direction %v", d)
	}
	if err := im.validate(); err != nil {
		return err
	}
	k := w.links[d]
	k.mu.Lock()
	k.imp = im
	k.mu.Unlock()
	return nil
}

// Impairment returns the impairment of direction d.
func (w *WAN) Impairment(d Dir) Impairment {
	k := w.links[d]
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.imp
}

// Stats returns what the emulator has done in direction d so far.
func (w *WAN) Stats(d Dir) WANStats {
	k := w.links[d]
	w.fdMu.Lock()
	defer w.fdMu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if !w.closed {
		// Reading the counters resets them, hence the sum.
		if st, err := unix.GetsockoptTpacketStats(k.in, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			k.m.stats.KernelDrops += uint64(st.Drops)
		}
	}
	return k.m.stats
}

// stop ends the forwarding threads, then closes the sockets.
func (w *WAN) stop(t testing.TB) {
	w.fdMu.Lock()
	defer w.fdMu.Unlock()
	if len(w.fds) == 3 {
		one := [8]byte{1}
		if _, err := unix.Write(w.fds[2], one[:]); err != nil {
			t.Errorf("lab: stop the WAN emulator: %v", err)
		}
		done := make(chan struct{})
		go func() {
			w.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			// Leave the sockets open: a thread still using them must not
			// meet their numbers reused by other files.
			t.Errorf("lab: WAN emulator did not stop within 5 s")
			return
		}
	}
	for _, fd := range w.fds {
		unix.Close(fd)
	}
	w.closed = true
}

// run forwards frames until the stop eventfd is written. It runs on its
// own thread, raised above ordinary tasks, and blocks in ppoll for the
// next frame or send time: the kernel wakes it on time on a busy machine,
// which the Go scheduler's timers and netpoller could not promise. It
// reports the scheduling policy it got on sched.
func (k *wanLink) run(sched chan<- string) {
	// Never unlocked: with its priority raised the thread must not go
	// back to the pool, so it ends with the goroutine.
	runtime.LockOSThread()
	sched <- raisePriority()
	buf := make([]byte, 1<<16)
	var due [][]byte
	fds := []unix.PollFd{{Fd: int32(k.in), Events: unix.POLLIN}, {Fd: int32(k.stop), Events: unix.POLLIN}}
	failures := 0 // errors in a row
	fail := func() bool {
		k.mu.Lock()
		k.m.stats.Errors++
		k.mu.Unlock()
		failures++
		if failures > 100 {
			return true // not a passing fault: give up
		}
		time.Sleep(time.Millisecond)
		return false
	}
	for {
		k.mu.Lock()
		due = k.m.due(time.Now(), due[:0])
		next, ok := k.m.next()
		k.mu.Unlock()
		var sent, failed uint64
		for i, f := range due {
			due[i] = nil
			if _, err := unix.Write(k.out, f); err != nil {
				failed++ // ENOBUFS, EAGAIN: the frame is lost, as on a wire
			} else {
				sent++
			}
		}
		if sent+failed > 0 {
			k.mu.Lock()
			k.m.stats.Sent += sent
			k.m.stats.Errors += failed
			k.mu.Unlock()
		}
		var timeout *unix.Timespec
		if ok {
			ts := unix.NsecToTimespec(max(0, int64(time.Until(next))))
			timeout = &ts
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Ppoll(fds, timeout, nil); err != nil && err != unix.EINTR {
			if fail() {
				return
			}
			continue
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents == 0 {
			continue // a send time has come
		}
		// Take what is there, a bounded batch, then send what is due.
		for range 64 {
			n, err := unix.Read(k.in, buf)
			now := time.Now()
			if err == unix.EAGAIN || err == unix.EINTR {
				break
			}
			if err != nil {
				// ENETDOWN, reported once when a link goes down, is
				// outlived.
				if fail() {
					return
				}
				break
			}
			failures = 0
			frame := bytes.Clone(buf[:n])
			k.mu.Lock()
			k.m.admit(&k.imp, frame, now)
			k.mu.Unlock()
		}
	}
}

// raisePriority puts the calling thread ahead of ordinary tasks: the
// lowest real-time priority (SCHED_FIFO 1) where allowed, else nice -20.
// The thread sleeps in ppoll whenever nothing is due, so it takes the CPU
// only while it forwards.
func raisePriority() string {
	attr := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 1}
	if err := unix.SchedSetAttr(0, &attr, 0); err == nil {
		return "SCHED_FIFO"
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -20); err == nil {
		return "nice -20"
	}
	return "at normal priority"
}

// String describes im in one line for logs.
func (im Impairment) String() string {
	s := fmt.Sprintf("delay %v", im.Delay)
	if im.Jitter > 0 {
		dist := "uniform"
		if im.Dist == JitterNormal {
			dist = "normal"
		}
		s += fmt.Sprintf(" jitter ±%v %s", im.Jitter, dist)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", im.Loss}, {"duplicate", im.Duplicate}, {"reorder", im.Reorder}} {
		if p.v > 0 {
			s += fmt.Sprintf(" %s %g%%", p.name, 100*p.v)
		}
	}
	if im.Reorder > 0 && im.ReorderGap > 0 {
		s += fmt.Sprintf(" gap %v", im.ReorderGap)
	}
	if im.Filter != nil {
		s += " (filtered)"
	}
	return s
}

// midIfs returns the names of the middle namespace's veths: the client's
// peer and the server's peer.
func midIfs(l *Lab) (mc, ms string) { return "mc" + l.ID, "ms" + l.ID }

// prepareMid makes the middle namespace a silent bridge for the emulator
// and turns off the offloads of the client's and server's veths.
func prepareMid(l *Lab) error {
	mc, ms := midIfs(l)
	err := InNamespace(l.Mid, func() error {
		// No IPv6 addresses, so the namespace sends nothing of its own
		// (router solicitations, MLD) onto the links.
		for _, c := range []string{"all", "default", mc, ms} {
			p := filepath.Join("/proc/sys/net/ipv6/conf", c, "disable_ipv6")
			if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
				return err
			}
		}
		for _, name := range []string{mc, ms} {
			if err := setOffload(name, unix.ETHTOOL_SGRO, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prepare %s: %w", l.Mid, err)
	}
	for _, name := range []string{mc, ms} {
		if out, err := run("ip", "-n", l.Mid, "link", "set", name, "up"); err != nil {
			return fmt.Errorf("ip link set %s up: %v: %s", name, err, out)
		}
	}
	for _, e := range []struct{ ns, dev string }{{l.Client, l.ClientIf}, {l.Server, l.ServerIf}} {
		err := InNamespace(e.ns, func() error {
			// Without checksum offload the kernel also drops scatter-gather
			// and TSO; GSO goes explicitly.
			for _, cmd := range []uint32{unix.ETHTOOL_STXCSUM, unix.ETHTOOL_SSG, unix.ETHTOOL_STSO, unix.ETHTOOL_SGSO} {
				if err := setOffload(e.dev, cmd, false); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("offloads of %s in %s: %w", e.dev, e.ns, err)
		}
	}
	return nil
}

// setOffload sets one offload feature of a device with the legacy ethtool
// ioctl (struct ethtool_value).
func setOffload(dev string, cmd uint32, on bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	val := struct{ cmd, data uint32 }{cmd: cmd}
	if on {
		val.data = 1
	}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [24]byte // rest of the union; ifreq is 40 bytes on 64-bit systems
	}
	copy(ifr.name[:unix.IFNAMSIZ-1], dev)
	ifr.data = unsafe.Pointer(&val)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&val)
	if errno != 0 {
		return fmt.Errorf("ethtool 0x%x on %s: %w", cmd, dev, errno)
	}
	return nil
}

// openPacket opens a non-blocking AF_PACKET socket bound to interface
// name of the calling thread's namespace, seeing every frame the
// interface receives but none it sends.
func openPacket(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return -1, err
	}
	// Protocol 0 receives nothing until bind names the interface and
	// ETH_P_ALL, so no frame of another interface slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("packet socket on %s: %s: %w", name, what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	// Room for bursts: 4 MB is thousands of frames.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		return fail("SO_RCVBUFFORCE", err)
	}
	all := uint16(unix.ETH_P_ALL)
	proto := all<<8 | all>>8 // network byte order
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	return fd, nil
}
