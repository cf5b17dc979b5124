package backend

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Moving a busy pool to another datastore fails no request: requests
// queued on the old connections finish there, later ones go to the new.
func TestRetargetUnderLoadFailsNoRequest(t *testing.T) {
	a := newFakeStore(t, "127.0.0.1:0")
	b := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, a.addr(), nil)
	waitUp(t, p)

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := do(p, "w"+strconv.Itoa(w)+"-"+strconv.Itoa(i), uint(w))
				sent.Add(1)
				if r.Err != nil {
					failed.Add(1)
				}
			}
		})
	}
	require.Eventually(t, func() bool { return sent.Load() > 200 }, 10*time.Second, time.Millisecond)
	require.NoError(t, p.Retarget(Target{Name: "b", Addr: b.addr(), Conns: 3}))
	require.Equal(t, b.addr(), p.Target().Addr)
	mark := sent.Load()
	require.Eventually(t, func() bool { return sent.Load() > mark+200 }, 10*time.Second, time.Millisecond)
	close(stop)
	wg.Wait()
	require.Zero(t, failed.Load(), "of %d requests", sent.Load())

	// the old datastore can go: the pool no longer uses it
	a.stop()
	for i := 0; i < 10; i++ {
		r := do(p, "after"+strconv.Itoa(i), uint(i))
		require.NoError(t, r.Err)
		require.Equal(t, "re:after"+strconv.Itoa(i)+"\n", string(r.Reply))
	}
	require.True(t, p.AllUp())
}

// A target that does not answer is refused and the pool stays where it was.
func TestRetargetToAnUnreachableDatastoreKeepsTheOldOne(t *testing.T) {
	a := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, a.addr(), func(o *Options) { o.Timeout = 300 * time.Millisecond })
	waitUp(t, p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()

	err = p.Retarget(Target{Addr: dead})
	require.ErrorIs(t, err, ErrNotReady)
	require.Contains(t, err.Error(), dead)
	require.Equal(t, a.addr(), p.Target().Addr)
	r := do(p, "still", 0)
	require.NoError(t, r.Err)
	require.Equal(t, "re:still\n", string(r.Reply))
}

// A timeout lowered on a running pool applies to the connections already
// open, at their next watchdog check.
func TestSetTuningAppliesTheNewTimeoutToOpenConnections(t *testing.T) {
	fs := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, fs.addr(), func(o *Options) { o.Conns = 1; o.AutoEject = false; o.Timeout = time.Hour })
	waitUp(t, p)
	p.SetTuning(Tuning{Timeout: 200 * time.Millisecond, RetryTimeout: 100 * time.Millisecond, FailureLimit: 3})
	require.Equal(t, 200*time.Millisecond, p.Tuning().Timeout)
	fs.setMute(true)
	r := do(p, "x", 0)
	require.ErrorIs(t, r.Err, msg.ErrDatastoreTimeout, "the old timeout was an hour")
}

// Ejection rules changed at run time apply at the next failure.
func TestSetTuningChangesEjection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	p := newPool(t, addr, func(o *Options) { o.AutoEject = false; o.Conns = 1 })
	require.Eventually(t, func() bool { return p.Stats().ConnectFailures >= 3 }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, p.Stats().Ejections, "auto_eject_hosts is off")
	p.SetTuning(Tuning{Timeout: time.Second, RetryTimeout: 100 * time.Millisecond, AutoEject: true, FailureLimit: 1})
	require.Eventually(t, func() bool { return p.Stats().Ejections >= 1 }, 10*time.Second, 5*time.Millisecond)
}
