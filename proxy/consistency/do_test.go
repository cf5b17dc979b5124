package consistency

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// racks is a set of n counted replicas in one datacenter, the first local.
func racks(n int) Set {
	return Set{Replicas: make([]Replica, n), DCs: 1, Primary: 0}.counted()
}

func (s Set) counted() Set {
	for i := range s.Replicas {
		s.Replicas[i].Counted = true
	}
	return s
}

// answer is a call's scripted behaviour for one replica.
type answer struct {
	reply string
	err   error
	// block: wait for the call's context to end, and report it on ended
	block bool
	// hold: wait until release is closed, reporting the context first
	hold bool
}

type script struct {
	answers []answer
	release chan struct{}
	ended   chan int             // replicas whose blocked call saw its context end
	held    chan context.Context // contexts of held calls
	mu      sync.Mutex
	called  []int
}

func newScript(answers ...answer) *script {
	return &script{answers: answers, release: make(chan struct{}), ended: make(chan int, len(answers)), held: make(chan context.Context, len(answers))}
}

func (s *script) call(ctx context.Context, i int) (string, []byte, error) {
	s.mu.Lock()
	s.called = append(s.called, i)
	s.mu.Unlock()
	a := s.answers[i]
	switch {
	case a.block:
		<-ctx.Done()
		s.ended <- i
		return "", nil, ctx.Err()
	case a.hold:
		s.held <- ctx
		<-s.release
	}
	return a.reply, []byte(a.reply), a.err
}

var errDown = errors.New("replica down")

func TestDoUntilQuorum(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()

	t.Run("a quorum read returns once two racks agree and cancels the third", func(t *testing.T) {
		sc := newScript(answer{reply: "a"}, answer{reply: "a"}, answer{block: true})
		v, err := DoUntilQuorum(ctx, quorum, racks(3), sc.call)
		require.NoError(t, err)
		require.Equal(t, "a", v)
		require.Equal(t, 2, <-sc.ended, "the straggler's context is cancelled")
	})

	t.Run("a quorum write returns once two racks agree and lets the third finish", func(t *testing.T) {
		sc := newScript(answer{reply: "+OK"}, answer{hold: true, reply: "+OK"}, answer{reply: "+OK"})
		v, err := DoUntilQuorum(ctx, safeWrite, racks(3), sc.call)
		require.NoError(t, err)
		require.Equal(t, "+OK", v)
		held := <-sc.held
		require.NoError(t, held.Err(), "the replication is not cancelled")
		close(sc.release)
	})

	t.Run("a DC_ONE write answers with the local rack and lets the others finish", func(t *testing.T) {
		sc := newScript(answer{reply: "+OK"}, answer{hold: true}, answer{hold: true})
		v, err := DoUntilQuorum(ctx, oneWrite, racks(3), sc.call)
		require.NoError(t, err)
		require.Equal(t, "+OK", v)
		for range 2 {
			require.NoError(t, (<-sc.held).Err())
		}
		close(sc.release)
	})

	t.Run("a DC_SAFE_QUORUM read whose racks disagree fails", func(t *testing.T) {
		sc := newScript(answer{reply: "a"}, answer{reply: "b"}, answer{reply: "c"})
		_, err := DoUntilQuorum(ctx, safe, racks(3), sc.call)
		require.ErrorIs(t, err, ErrNoQuorum)
		require.EqualError(t, err, "failed to achieve quorum (DC_SAFE_QUORUM)")
	})

	t.Run("a DC_QUORUM read whose racks disagree takes the first rack's", func(t *testing.T) {
		sc := newScript(answer{reply: "a"}, answer{reply: "b"}, answer{reply: "c"})
		v, err := DoUntilQuorum(ctx, quorum, racks(3), sc.call)
		require.NoError(t, err)
		require.Equal(t, "a", v)
	})

	t.Run("too few good replies fail with the first replica's error", func(t *testing.T) {
		sc := newScript(answer{reply: "a"}, answer{err: errDown}, answer{err: errDown})
		_, err := DoUntilQuorum(ctx, quorum, racks(3), sc.call)
		require.ErrorIs(t, err, ErrNoQuorum)
		require.ErrorIs(t, err, errDown)
		require.EqualError(t, err, "failed to achieve quorum (DC_QUORUM): replica 1: replica down")
	})

	t.Run("DC_EACH_SAFE_QUORUM needs every datacenter", func(t *testing.T) {
		set := Set{DCs: 2, Replicas: []Replica{{DC: 0}, {DC: 0}, {DC: 1}, {DC: 1}}}.counted()
		sc := newScript(answer{reply: "a"}, answer{reply: "a"}, answer{reply: "a"}, answer{err: errDown})
		_, err := DoUntilQuorum(ctx, each, set, sc.call)
		require.ErrorIs(t, err, errDown)
		require.EqualError(t, err, "failed to achieve quorum (DC_EACH_SAFE_QUORUM): replica 3: replica down")
	})

	t.Run("a DC_ONE read fails over one replica at a time", func(t *testing.T) {
		sc := newScript(answer{err: errDown}, answer{reply: "b"}, answer{reply: "c"})
		set := racks(3)
		set.Primary = 1
		v, err := DoUntilQuorum(ctx, one, set, sc.call)
		require.NoError(t, err)
		require.Equal(t, "b", v)
		require.Equal(t, []int{1}, sc.called, "the local rack first, nobody else once it replied")

		sc = newScript(answer{err: errDown}, answer{reply: "b"}, answer{reply: "c"})
		v, err = DoUntilQuorum(ctx, one, racks(3), sc.call)
		require.NoError(t, err)
		require.Equal(t, "b", v)
		require.Equal(t, []int{0, 1}, sc.called)
	})

	t.Run("a DC_ONE read gets the last error when every replica failed", func(t *testing.T) {
		last := errors.New("last replica down")
		sc := newScript(answer{err: errDown}, answer{err: errDown}, answer{err: last})
		_, err := DoUntilQuorum(ctx, one, racks(3), sc.call)
		require.ErrorIs(t, err, last)
		require.EqualError(t, err, "replica 2: last replica down")
	})

	t.Run("the caller's context ends the wait and every call", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		sc := newScript(answer{block: true}, answer{block: true}, answer{reply: "a"})
		done := make(chan error)
		go func() {
			_, err := DoUntilQuorum(cctx, quorum, racks(3), sc.call)
			done <- err
		}()
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		got := map[int]bool{<-sc.ended: true, <-sc.ended: true}
		require.Equal(t, map[int]bool{0: true, 1: true}, got)
	})

	t.Run("a set it cannot decide is rejected", func(t *testing.T) {
		sc := newScript()
		for name, c := range map[string]struct {
			s   Strategy
			set Set
			err string
		}{
			"no replicas":               {quorum, Set{DCs: 1}, "consistency: no replicas"},
			"a key-by-key set":          {quorum, Set{DCs: 1, Replicas: make([]Replica, 1), Choice: make([]int, 2)}, "does not decide key by key"},
			"DC_ONE without its rack":   {oneWrite, Set{DCs: 1, Replicas: make([]Replica, 1), Primary: -1}, "DC_ONE needs the local rack's replica (Set.Primary -1 of 1 replicas)"},
			"a replica outside the DCs": {each, Set{DCs: 1, Replicas: []Replica{{DC: 1}}}, "replica 0 is in datacenter 1 of 1 (Set.DCs)"},
			"an invalid level":          {Strategy{Level: 7}, racks(1), "consistency: invalid level Level(7)"},
		} {
			_, err := DoUntilQuorum(ctx, c.s, c.set, sc.call)
			require.ErrorContains(t, err, c.err, name)
		}
		require.Empty(t, sc.called)
	})
}
