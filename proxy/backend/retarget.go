package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Changing a running pool (a configuration reload): SetTuning changes the
// timeouts and the ejection rules in place; Retarget moves the pool to
// another datastore address, connection count or connection set-up
// (datastore_password) without failing a request.

// Tuning is what SetTuning changes on a running pool. Zero values keep the
// defaults of New.
type Tuning struct {
	// Timeout is the request timeout (and the bound of one dial).
	Timeout time.Duration
	// RetryTimeout is server_retry_timeout.
	RetryTimeout time.Duration
	// AutoEject and FailureLimit are auto_eject_hosts and
	// server_failure_limit.
	AutoEject    bool
	FailureLimit int
}

// Tuning returns the settings in force.
func (p *Pool) Tuning() Tuning { return *p.tune.Load() }

// SetTuning replaces the timeouts and the ejection rules. Connections take
// the timeout at their next check (a watchdog tick, the next dial), the
// ejection rules at the next failure.
func (p *Pool) SetTuning(t Tuning) {
	t = t.withDefaults()
	p.tune.Store(&t)
}

// withDefaults fills the zero values with New's defaults.
func (t Tuning) withDefaults() Tuning {
	if t.Timeout <= 0 {
		t.Timeout = 5 * time.Second
	}
	if t.RetryTimeout <= 0 {
		t.RetryTimeout = 10 * time.Second
	}
	if t.FailureLimit <= 0 {
		t.FailureLimit = 3
	}
	return t
}

// Target is where a pool's connections go and how they are set up.
type Target struct {
	// Name names the datastore in logs and errors; "" means Addr.
	Name string
	// Network ("tcp" or "unix", "" means tcp) and Addr: the address.
	Network, Addr string
	// Conns is the number of connections (0 means 1).
	Conns int
	// Init runs on every new connection before it serves (AUTH).
	Init func(net.Conn) error
}

// connSet is the connections of one target. A pool has one current set;
// Retarget replaces it and retires the previous one.
type connSet struct {
	Target
	conns  []*conn
	log    *slog.Logger
	cancel context.CancelFunc
}

func (p *Pool) newSet(t Target) *connSet {
	if t.Network == "" {
		t.Network = "tcp"
	}
	if t.Name == "" {
		t.Name = t.Addr
	}
	t.Conns = max(t.Conns, 1)
	set := &connSet{Target: t, log: p.opts.Logger.With("component", "backend", p.opts.Role, t.Name)}
	for i := 0; i < t.Conns; i++ {
		set.conns = append(set.conns, newConn(p, set, i))
	}
	return set
}

// startSet runs set's connections under the pool's context (p.mu held,
// the pool started).
func (p *Pool) startSet(set *connSet) {
	ctx, cancel := context.WithCancel(p.ctx)
	set.cancel = cancel
	for _, c := range set.conns {
		p.wg.Go(func() { c.run(ctx) })
	}
}

// Target returns where the pool's connections go.
func (p *Pool) Target() Target { return p.set.Load().Target }

// ErrNotReady: the new target did not accept every connection in time.
var ErrNotReady = errors.New("the new datastore did not accept its connections in time")

// Retarget moves the pool to t. The new connections are made first; the
// pool switches to them only when every one of them is up (at most
// `timeout`, else the pool stays where it was and Retarget returns an
// error wrapping ErrNotReady). Requests sent afterwards go to the new
// target; those already queued on the old connections finish there, and
// the old connections close once they have nothing in flight (or after
// twice the timeout). A pool that was not started only records t.
func (p *Pool) Retarget(t Target) error {
	next := p.newSet(t)
	p.mu.Lock()
	if !p.started {
		p.set.Store(next)
		p.mu.Unlock()
		return nil
	}
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		return errors.New("the pool is closed")
	}
	p.startSet(next)
	p.mu.Unlock()

	timeout := p.tune.Load().Timeout
	if err := next.waitUp(timeout); err != nil {
		next.cancel()
		return fmt.Errorf("%s (%s): %w", next.Name, next.Addr, err)
	}
	old := p.set.Swap(next)
	p.failures.Store(0)
	p.ejectedUntil.Store(0)
	p.log.Info(p.opts.Role+" changed", "from", old.Name, "to", next.Name, "conns", len(next.conns))
	ctx := p.ctx
	p.wg.Go(func() { old.retire(ctx, 2*timeout) })
	return nil
}

// waitUp triggers every connection's first dial and waits until all are
// up, at most timeout.
func (set *connSet) waitUp(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, c := range set.conns {
		c.wantOne.Do(func() { close(c.want) })
	}
	for {
		up := true
		for _, c := range set.conns {
			up = up && c.isUp()
		}
		if up {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrNotReady
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// retire stops a replaced set: no request is queued on it any more (send
// passes them on to the current set), and its connections close once
// what they had queued or in flight is answered, or at the latest after
// grace.
func (set *connSet) retire(ctx context.Context, grace time.Duration) {
	defer set.cancel()
	for _, c := range set.conns {
		c.mu.Lock() // waits for the senders inside send
		c.retired = true
		c.mu.Unlock()
	}
	deadline := time.Now().Add(grace)
	for !set.idle() && time.Now().Before(deadline) {
		if !sleep(ctx, 5*time.Millisecond) {
			return
		}
	}
}

// idle: nothing queued or awaiting a reply on any connection of the set.
func (set *connSet) idle() bool {
	for _, c := range set.conns {
		if c.queued.Load() > 0 || c.outstanding.Load() > 0 {
			return false
		}
	}
	return true
}
