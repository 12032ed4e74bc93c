package forward

import (
	"context"
	"slices"
	"sync"
)

// Group runs forwarders by name in the background, for the picker's f
// key: Toggle starts a name's forwards or stops them.
type Group struct {
	mu      sync.Mutex
	running map[string]*background
}

type background struct {
	f    *Forwarder
	stop context.CancelFunc
	done chan struct{}
}

// Toggle stops name's forwarder when it runs (Serve closes its door) and
// returns false; else it starts the one start returns and returns true.
func (g *Group) Toggle(name string, start func() (*Forwarder, error)) (bool, error) {
	g.mu.Lock()
	b := g.running[name]
	delete(g.running, name)
	g.mu.Unlock()
	if b != nil {
		b.stop()
		<-b.done
		return false, nil
	}
	f, err := start()
	if err != nil {
		return false, err
	}
	ctx, stop := context.WithCancel(context.Background())
	b = &background{f: f, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		_ = f.Serve(ctx)
	}()
	g.mu.Lock()
	if g.running == nil {
		g.running = map[string]*background{}
	}
	g.running[name] = b
	g.mu.Unlock()
	return true, nil
}

// Lines returns the status lines of every running forwarder, sorted.
func (g *Group) Lines() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var lines []string
	for _, b := range g.running {
		lines = append(lines, b.f.Lines()...)
	}
	slices.Sort(lines)
	return lines
}

// Stop ends every forwarder, each closing its door.
func (g *Group) Stop() {
	g.mu.Lock()
	running := g.running
	g.running = nil
	g.mu.Unlock()
	for _, b := range running {
		b.stop()
		<-b.done
	}
}
