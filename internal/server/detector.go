package server

import (
	"net/netip"

	"github.com/a-knock/knock/internal/seq"
)

// DefaultMaxAttempts bounds the knock attempts tracked at once. A flood
// of spoofed first knocks displaces only other first knocks (see
// [Detector]), and a legitimate first knock outlives DefaultMaxAttempts
// of them: 2 s of a 25,000 packets/s flood, time for the next knock of a
// slowly paced sequence. A full table costs about 20 MB of RSS.
const DefaultMaxAttempts = 50000

// door is a door at run time: its sequence may change (one-time
// sequences) and it may be disabled when they run out.
type door struct {
	name     string
	seq      seq.Sequence
	flags    seq.Flags
	timeout  int64      // seq_timeout in whole seconds
	target   netip.Addr // valid when the door has a Target
	disabled bool
	index    int // position in the configuration
}

// matchFlags is knockd's flags_match: only TCP packets are filtered.
func (d *door) matchFlags(p *Packet) bool {
	return p.Proto != seq.TCP || d.flags.Match(p.Flags)
}

// has reports whether the door's sequence contains the packet's port and
// protocol.
func (d *door) has(p *Packet) bool {
	for _, k := range d.seq {
		if k.Port == p.Port && k.Proto == p.Proto {
			return true
		}
	}
	return false
}

// attempt is one knocker's progress through one door. It is linked into
// its indexes rather than held by them, so that each costs one allocation
// of 80 bytes (and a map entry for its source).
type attempt struct {
	src   netip.Addr
	door  *door
	stage int   // knocks matched so far; -1 when killed
	start int64 // Unix seconds of the first knock
	// prev and next link the attempts of one stage; sib links the
	// attempts of one source.
	prev, next, sib *attempt
	queued          bool // in a stage queue
	done            bool // completed
}

// queue is a list of attempts of one stage, oldest first.
type queue struct{ head, tail *attempt }

func (q *queue) push(a *attempt) {
	a.prev, a.next, a.queued = q.tail, nil, true
	if q.tail == nil {
		q.head = a
	} else {
		q.tail.next = a
	}
	q.tail = a
}

func (q *queue) unlink(a *attempt) {
	if a.prev == nil {
		q.head = a.next
	} else {
		a.prev.next = a.next
	}
	if a.next == nil {
		q.tail = a.prev
	} else {
		a.next.prev = a.prev
	}
	a.prev, a.next, a.queued = nil, nil, false
}

// expired reports whether a live attempt can no longer complete: its
// door's seq_timeout has passed or the door was disabled. knockd removes
// such an attempt when its source's next packet arrives; removing it
// earlier changes no outcome.
func (a *attempt) expired(now int64) bool {
	return a.door.disabled || now-a.start >= a.door.timeout
}

// Stats counts what a Detector saw.
type Stats struct {
	Packets  uint64 // packets handed to Handle
	Relevant uint64 // packets that a door's filter admitted
	Attempts uint64 // attempts started
	Opened   uint64 // sequences completed
	Evicted  uint64 // live attempts dropped because MaxAttempts were tracked
	// EvictedAdvanced counts the evicted attempts that had matched more
	// than their first knock. It stays 0 under a flood of first knocks;
	// when it grows, legitimate knockers are losing their progress.
	EvictedAdvanced uint64
	Tracked         int // attempts tracked now
}

// Detector is knockd's detection state machine (knockd.c, sniff()):
//
//   - A packet counts only when some enabled door has its port and
//     protocol (TCP with the door's TCPFlags) and it is addressed to us (or
//     to the door's Target): other traffic cannot disturb a knock.
//   - State is per source address. Before a packet is matched, the
//     source's completed, killed and timed-out attempts are removed; an
//     attempt times out when the packet's whole second minus the first
//     knock's is at least seq_timeout.
//   - A source with attempts: each attempt whose door's flags match the
//     packet advances when the packet is the next knock, and is killed
//     otherwise; the packet starts nothing new.
//   - A source without attempts: the packet starts an attempt at every
//     door whose first knock it is (doors sharing a first port are
//     tracked in parallel).
//
// Unlike knockd it bounds memory: at most max attempts are tracked. A
// completed or killed attempt is dropped at once (knockd drops it when its
// source's next packet arrives, which changes no outcome). When the
// table is full, a new attempt takes the place of, in this order: an
// attempt past its seq_timeout at the head of a stage's queue, else the
// oldest of the attempts that matched the fewest knocks. A flood from
// spoofed sources that knows only a door's first port can start attempts
// but not advance them, so it evicts only other first knocks: an attempt
// that matched two knocks is evicted only when no attempt with fewer is
// left. Evictions are counted.
//
// A Detector is not safe for concurrent use.
type Detector struct {
	doors []*door
	local func(netip.Addr) bool // dst is one of our addresses; nil: any
	max   int
	// bySrc holds each source's attempts, the oldest first, linked by
	// sib.
	bySrc map[netip.Addr]*attempt
	// stages[k] holds the live attempts that matched k knocks, in the
	// order they got there, oldest first (stages[0] stays empty).
	stages  []queue
	tracked int
	stats   Stats
	onStep  func(a *attempt, opened bool)
}

func newDetector(doors []*door, local func(netip.Addr) bool, max int) *Detector {
	if max <= 0 {
		max = DefaultMaxAttempts
	}
	return &Detector{doors: doors, local: local, max: max, bySrc: map[netip.Addr]*attempt{}}
}

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	s.Tracked = d.tracked
	return s
}

// dstMatches is knockd's target_strcmp: the door's target, else any of
// our addresses.
func (d *Detector) dstMatches(dr *door, dst netip.Addr) bool {
	if dr.target.IsValid() {
		return dst == dr.target
	}
	return !dst.IsValid() || d.local == nil || d.local(dst)
}

// relevant is knockd's pcap filter: the packet reaches sniff() only when
// some door lists its port with its protocol (and flags) and it is
// addressed to that door.
func (d *Detector) relevant(p *Packet) bool {
	for _, dr := range d.doors {
		if !dr.disabled && dr.has(p) && dr.matchFlags(p) && d.dstMatches(dr, p.Dst) {
			return true
		}
	}
	return false
}

// Handle feeds one packet to the state machine. It reports each step
// through onStep.
func (d *Detector) Handle(p Packet) {
	d.stats.Packets++
	p.Src = p.Src.Unmap().WithZone("")
	p.Dst = p.Dst.Unmap().WithZone("")
	if !p.Src.IsValid() || !d.relevant(&p) {
		return
	}
	d.stats.Relevant++
	now := p.Time.Unix()
	d.sweep(now)
	// Clean up this source's timed-out attempts, as knockd does for all
	// (completed and killed ones are gone already).
	found := false
	for a := d.bySrc[p.Src]; a != nil; {
		next := a.sib
		if a.expired(now) {
			d.remove(a)
		} else if d.dstMatches(a.door, p.Dst) {
			found = true
		}
		a = next
	}
	if found {
		for a := d.bySrc[p.Src]; a != nil; {
			next := a.sib
			switch {
			case !d.dstMatches(a.door, p.Dst):
				// An attempt at another Target is not this packet's.
			case !a.door.matchFlags(&p):
				// Flags do not match: ignored, the attempt lives on.
			case a.stage < len(a.door.seq) && a.door.seq[a.stage] == (seq.Knock{Port: p.Port, Proto: p.Proto}):
				d.advance(a)
			default:
				d.remove(a)
				a.stage = -1
			}
			a = next
		}
		return
	}
	for _, dr := range d.doors {
		if dr.disabled || len(dr.seq) == 0 || !dr.matchFlags(&p) ||
			dr.seq[0] != (seq.Knock{Port: p.Port, Proto: p.Proto}) || !d.dstMatches(dr, p.Dst) {
			continue
		}
		a := &attempt{src: p.Src, door: dr, start: now}
		d.track(a, now)
		d.stats.Attempts++
		d.advance(a)
	}
}

// advance is knockd's process_attempt: one more knock matched. The
// attempt moves up a stage, or, completed, is dropped.
func (d *Detector) advance(a *attempt) {
	if a.queued {
		d.stages[a.stage].unlink(a)
	}
	a.stage++
	opened := a.stage >= len(a.door.seq)
	if opened {
		a.done = true
		d.stats.Opened++
		d.remove(a)
	} else {
		for len(d.stages) <= a.stage {
			d.stages = append(d.stages, queue{})
		}
		d.stages[a.stage].push(a)
	}
	if d.onStep != nil {
		d.onStep(a, opened)
	}
}

// track adds a new attempt (not yet in a stage), making room first when
// max are tracked.
func (d *Detector) track(a *attempt, now int64) {
	for d.tracked >= d.max && d.evict(now) {
	}
	last := d.bySrc[a.src]
	if last == nil {
		d.bySrc[a.src] = a
	} else {
		for last.sib != nil {
			last = last.sib
		}
		last.sib = a
	}
	d.tracked++
}

// evict drops one attempt: one past its time at the front of a stage if
// there is one, else the oldest of the lowest stage. It reports false when
// there is none.
func (d *Detector) evict(now int64) bool {
	var victim *attempt
	for _, q := range d.stages {
		a := q.head
		if a == nil {
			continue
		}
		if a.expired(now) {
			d.remove(a)
			return true
		}
		if victim == nil {
			victim = a
		}
	}
	if victim == nil {
		return false
	}
	d.stats.Evicted++
	if victim.stage > 1 {
		d.stats.EvictedAdvanced++
	}
	d.remove(victim)
	return true
}

// remove drops an attempt from both indexes; an attempt no longer
// tracked is left alone.
func (d *Detector) remove(a *attempt) {
	if a.queued {
		d.stages[a.stage].unlink(a)
	}
	head := d.bySrc[a.src]
	if head == a {
		if a.sib == nil {
			delete(d.bySrc, a.src)
		} else {
			d.bySrc[a.src] = a.sib
		}
	} else {
		x := head
		for x != nil && x.sib != a {
			x = x.sib
		}
		if x == nil {
			return
		}
		x.sib = a.sib
	}
	a.sib = nil
	d.tracked--
}

// sweep removes a few expired attempts from the front of each stage, so
// that sources that never come back do not hold memory until eviction.
func (d *Detector) sweep(now int64) {
	for k := range d.stages {
		for i := 0; i < 4; i++ {
			a := d.stages[k].head
			if a == nil || !a.expired(now) {
				break
			}
			d.remove(a)
		}
	}
}
