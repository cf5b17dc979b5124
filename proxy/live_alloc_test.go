package proxy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// What a session reads from the live snapshot per request (the limits,
// the levels a reload may have changed, whether AUTH is required) costs
// no allocation, before and after a reload.
func TestReadingTheLiveSnapshotDoesNotAllocate(t *testing.T) {
	s, err := New(Options{Proto: msg.Redis, Listen: "127.0.0.1:0", Datastore: "127.0.0.1:1", RequirePass: "pw"})
	require.NoError(t, err)
	ss := &session{s: s}
	var sink int64
	read := func() {
		l := s.live.Load()
		ss.followLevels(l)
		sink += l.MaxBufferedBytes + int64(l.ClientIdleTimeout)
		if s.authRequired() {
			sink++
		}
	}
	require.Zero(t, testing.AllocsPerRun(1000, read))
	l := s.Live()
	l.ReadLevel = consistency.DCQuorum
	require.NoError(t, s.Reload(l))
	require.Zero(t, testing.AllocsPerRun(1000, read))
	require.Equal(t, consistency.DCQuorum, ss.rl, "the session followed the reload")
	require.NotZero(t, sink)
}
