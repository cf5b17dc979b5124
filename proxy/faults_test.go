package proxy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// Faults a real datastore does not show on demand, injected in the fake
// datastores of one datacenter of three racks, pin how a quorum is decided
// (fanout.go): early once enough copies agree, otherwise when every
// counted copy is in.

// threeRacks starts dc1 r1..r3 with a datastore timeout long enough that a
// reply arriving within proxytest's 10 s read deadline cannot come from a
// timed-out copy: a hung rack must be left out, not waited for.
func threeRacks(t *testing.T) *proxytest.Cluster {
	return fakeCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r3/0"}, func(o *Options) {
		o.Timeout = 30 * time.Second
		o.ShutdownGrace = time.Second
	})
}

// seed stores key=value in each rack's datastore (value per rack).
func seed(tc *proxytest.Cluster, key string, byRack ...string) {
	for i, v := range byRack {
		tc.Nodes[i].Fake.Set(key, v)
	}
}

func TestQuorumWithOneRackHangingAnswersFromTheOtherTwo(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := threeRacks(t)
	seed(tc, "k", "v", "v", "v")
	hung := tc.Nodes[2].Fake
	hung.SetFault(proxytest.Fault{Hang: true})

	for _, level := range []string{"DC_QUORUM", "DC_SAFE_QUORUM"} {
		c := tc.Client(0, level)
		gets := hung.Count("GET")
		require.Equal(t, "$1\r\nv\r\n", c.Do("GET", "k"), "a read at %s", level)
		require.Equal(t, "+OK\r\n", c.Do("SET", "w", level), "a write at %s", level)
		for i := 0; i < 2; i++ {
			got, _ := tc.Nodes[i].Fake.Get("w")
			require.Equal(t, level, got, "rack %d stored the write", i+1)
		}
		// the hung rack was asked too: the two others were not its fallback
		proxytest.Eventually(t, 5*time.Second, func() bool { return hung.Count("GET") == gets+1 }, "the hung rack never got the read")
	}
	// the copies the hung rack holds fail when it drops them
	hung.Stop()
	tc.Close()
}

func TestSafeQuorumOutvotesOneRackWithAnotherValue(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := threeRacks(t)

	t.Run("the odd value is on a rack that answers", func(t *testing.T) {
		seed(tc, "odd", "a", "b", "a")
		require.Equal(t, "$1\r\na\r\n", tc.Client(0, "DC_SAFE_QUORUM").Do("GET", "odd"))
		require.Equal(t, "$1\r\na\r\n", tc.Client(1, "DC_SAFE_QUORUM").Do("GET", "odd"), "through the odd rack's own node")
	})

	t.Run("the two first replies disagree and the agreeing rack is slow: the read waits for it", func(t *testing.T) {
		seed(tc, "late", "a", "b", "a")
		tc.Nodes[2].Fake.SetFault(proxytest.Fault{Delay: 200 * time.Millisecond})
		defer tc.Nodes[2].Fake.SetFault(proxytest.Fault{})
		require.Equal(t, "$1\r\na\r\n", tc.Client(0, "DC_SAFE_QUORUM").Do("GET", "late"))
		require.Equal(t, "$1\r\na\r\n", tc.Client(0, "DC_QUORUM").Do("GET", "late"))
	})

	t.Run("the agreeing rack replies an error and the two others disagree: no quorum, the read fails", func(t *testing.T) {
		seed(tc, "split", "a", "b", "a")
		tc.Nodes[2].Fake.SetFault(proxytest.Fault{Error: "injected"})
		defer tc.Nodes[2].Fake.SetFault(proxytest.Fault{})
		require.Equal(t, "-ERR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", tc.Client(0, "DC_SAFE_QUORUM").Do("GET", "split"))
	})

	t.Run("one rack replies an error: the two others agree", func(t *testing.T) {
		seed(tc, "e", "a", "a", "a")
		tc.Nodes[1].Fake.SetFault(proxytest.Fault{Error: "injected"})
		defer tc.Nodes[1].Fake.SetFault(proxytest.Fault{})
		require.Equal(t, "$1\r\na\r\n", tc.Client(0, "DC_SAFE_QUORUM").Do("GET", "e"))
	})
	tc.Close()
}
