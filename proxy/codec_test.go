package proxy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// parseOne runs c.read on one request, which must be forwarded.
func parseOne(t *testing.T, c codec, raw string) *msg.Request {
	t.Helper()
	fr := msg.NewFrameReader(&loopReader{data: []byte(raw)}, 4<<10, 1<<20)
	require.NoError(t, fr.Fill(len(raw)))
	r := msg.NewRequest()
	act, _, err := c.read(fr, r)
	require.NoError(t, err)
	require.Equal(t, actForward, act, raw)
	return r
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i, a := range b {
		out[i] = string(a)
	}
	return out
}

// The fragments and the replies of multi-key commands, per protocol: what
// multikey.go and keyquorum.go ask the codec for.
func TestCodecsSplitAndJoinMultiKeyRequests(t *testing.T) {
	tests := map[string]struct {
		c        codec
		req      string
		flags    msg.Flags
		keys     []string
		idx      []int // the keys of one fragment
		frag     string
		fragKeys []string // the fragment's Args
		// replies of two fragments holding keys [0, 2] and [1], and what
		// the client gets from them
		fragReplies [2]string
		keyFrag     []int
		keyPos      []int
		coalesced   string
	}{
		"MGET is split per key and joined in key order": {
			c: newRedisCodec(0), req: string(cmd("MGET", "a", "b", "c")),
			flags: msg.FlagRead | msg.FlagMultiKey | msg.FlagCoalesceArray,
			keys:  []string{"a", "b", "c"}, idx: []int{0, 2},
			frag: string(cmd("MGET", "a", "c")), fragKeys: []string{"MGET", "a", "c"},
			fragReplies: [2]string{"*2\r\n$1\r\nA\r\n$-1\r\n", "*1\r\n$1\r\nB\r\n"},
			keyFrag:     []int{0, 1, 0}, keyPos: []int{0, 0, 1},
			coalesced: "*3\r\n$1\r\nA\r\n$1\r\nB\r\n$-1\r\n",
		},
		"MSET keeps each key's value and answers one OK": {
			c: newRedisCodec(0), req: string(cmd("MSET", "a", "1", "b", "2", "c", "3")),
			flags: msg.FlagWrite | msg.FlagMultiKey | msg.FlagCoalesceStatus,
			keys:  []string{"a", "b", "c"}, idx: []int{0, 2},
			frag: string(cmd("MSET", "a", "1", "c", "3")), fragKeys: []string{"MSET", "a", "1", "c", "3"},
			fragReplies: [2]string{"+OK\r\n", "+OK\r\n"},
			keyFrag:     []int{0, 1, 0}, keyPos: []int{0, 0, 1},
			coalesced: "+OK\r\n",
		},
		"DEL adds the fragments' counts": {
			c: newRedisCodec(0), req: string(cmd("DEL", "a", "b", "c")),
			flags: msg.FlagWrite | msg.FlagMultiKey | msg.FlagDelete | msg.FlagCoalesceSum,
			keys:  []string{"a", "b", "c"}, idx: []int{0, 2},
			frag: string(cmd("DEL", "a", "c")), fragKeys: []string{"DEL", "a", "c"},
			fragReplies: [2]string{":2\r\n", ":1\r\n"},
			keyFrag:     []int{0, 1, 0}, keyPos: []int{0, 0, 1},
			coalesced: ":3\r\n",
		},
		"memcache get is split per key and its VALUE blocks joined in key order": {
			c: newMemcacheCodec(0), req: "get a b c\r\n",
			flags: msg.FlagRead | msg.FlagMultiKey | msg.FlagCoalesceArray,
			keys:  []string{"a", "b", "c"}, idx: []int{0, 2},
			frag: "get a c\r\n", fragKeys: []string{"a", "c"},
			fragReplies: [2]string{"VALUE a 0 1\r\nA\r\nEND\r\n", "VALUE b 0 1\r\nB\r\nEND\r\n"},
			keyFrag:     []int{0, 1, 0}, keyPos: []int{0, 0, 1},
			coalesced: "VALUE a 0 1\r\nA\r\nVALUE b 0 1\r\nB\r\nEND\r\n",
		},
		"memcache gats keeps its exptime in each fragment and is a write": {
			c: newMemcacheCodec(0), req: "gats 100 a b c\r\n",
			flags: msg.FlagWrite | msg.FlagMultiKey | msg.FlagCoalesceArray,
			keys:  []string{"a", "b", "c"}, idx: []int{0, 2},
			frag: "gats 100 a c\r\n", fragKeys: []string{"a", "c"},
			fragReplies: [2]string{"END\r\n", "VALUE b 0 1 7\r\nB\r\nEND\r\n"},
			keyFrag:     []int{0, 1, 0}, keyPos: []int{0, 0, 1},
			coalesced: "VALUE b 0 1 7\r\nB\r\nEND\r\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := parseOne(t, tc.c, tc.req)
			require.Equal(t, msg.ClassMultiKey, r.Class)
			require.Equal(t, tc.flags.String(), r.Flags.String())
			keys := tc.c.keys(r, nil)
			require.Equal(t, tc.keys, strs(keys))
			require.Equal(t, len(keys), tc.c.keyCount(r))

			frag := msg.NewRequest()
			frag.Cmd, frag.Flags = r.Cmd, r.Flags
			tc.c.fragment(frag, r, keys, tc.idx)
			require.Equal(t, tc.frag, string(frag.Raw))
			require.Equal(t, tc.fragKeys, strs(frag.Args))
			require.Equal(t, tc.keys[tc.idx[0]], string(frag.Key))
			require.Equal(t, len(tc.idx), tc.c.keyCount(frag))

			co := &coalescer{parent: r, keys: keys, keyFrag: tc.keyFrag, keyPos: tc.keyPos}
			for _, reply := range tc.fragReplies {
				f := msg.NewRequest()
				f.SetReply([]byte(reply))
				require.False(t, fragmentFailed(f.Reply), reply)
				co.frags = append(co.frags, f)
			}
			require.Equal(t, tc.coalesced, string(tc.c.coalesce(nil, co)))
		})
	}
}

func TestCodecsSplitRepliesKeyByKey(t *testing.T) {
	t.Run("redis: one array element per key", func(t *testing.T) {
		c := newRedisCodec(0)
		r := parseOne(t, c, string(cmd("MGET", "a", "b")))
		reply := []byte("*2\r\n$1\r\nA\r\n$-1\r\n")
		sp := make([]span, 2)
		require.True(t, c.splitReply(reply, r, sp))
		require.Equal(t, "$1\r\nA\r\n", string(reply[sp[0].start:sp[0].end]))
		require.Equal(t, "$-1\r\n", string(reply[sp[1].start:sp[1].end]))
		require.False(t, c.splitReply([]byte("*3\r\n:1\r\n:2\r\n:3\r\n"), r, sp), "three elements for two keys")
		require.False(t, c.splitReply([]byte("-ERR x\r\n"), r, sp))
		require.True(t, fragmentFailed([]byte("-ERR x\r\n")))
		require.Equal(t, "*2\r\nxy", string(c.closeElems(append(c.openElems(nil, 2), "xy"...))))
	})
	t.Run("memcache: one VALUE block per key, empty for a miss", func(t *testing.T) {
		c := newMemcacheCodec(0)
		r := parseOne(t, c, "get a b\r\n")
		reply := []byte("VALUE b 0 1\r\nB\r\nEND\r\n")
		sp := make([]span, 2)
		require.True(t, c.splitReply(reply, r, sp))
		require.Equal(t, "", string(reply[sp[0].start:sp[0].end]))
		require.Equal(t, "VALUE b 0 1\r\nB\r\n", string(reply[sp[1].start:sp[1].end]))
		require.False(t, c.splitReply([]byte("SERVER_ERROR x\r\n"), r, sp))
		for _, e := range []string{"SERVER_ERROR x\r\n", "CLIENT_ERROR x\r\n", "ERROR\r\n", ""} {
			require.True(t, fragmentFailed([]byte(e)), e)
		}
		require.Equal(t, "xyEND\r\n", string(c.closeElems(append(c.openElems(nil, 2), "xy"...))))
	})
}

// The router reads the table's flags off the request; single-key commands
// carry them too.
func TestCodecsSetTheTableFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		c     codec
		req   string
		class msg.Class
		flags msg.Flags
	}{
		"GET":                   {newRedisCodec(0), string(cmd("GET", "k")), msg.ClassRead, msg.FlagRead},
		"HGETALL":               {newRedisCodec(0), string(cmd("HGETALL", "k")), msg.ClassRead, msg.FlagRead | msg.FlagLocalRackOnly},
		"EVAL":                  {newRedisCodec(0), string(cmd("EVAL", "s", "1", "k")), msg.ClassWrite, msg.FlagWrite | msg.FlagScript},
		"PING":                  {newRedisCodec(0), string(cmd("PING")), msg.ClassLocal, msg.FlagKeyless},
		"memcache get, one key": {newMemcacheCodec(0), "get k\r\n", msg.ClassRead, msg.FlagRead | msg.FlagMultiKey | msg.FlagCoalesceArray},
		"memcache delete":       {newMemcacheCodec(0), "delete k\r\n", msg.ClassWrite, msg.FlagWrite | msg.FlagDelete},
		"memcache version":      {newMemcacheCodec(0), "version\r\n", msg.ClassLocal, msg.FlagKeyless},
	} {
		t.Run(name, func(t *testing.T) {
			r := parseOne(t, tc.c, tc.req)
			require.Equal(t, tc.class, r.Class)
			require.Equal(t, tc.flags.String(), r.Flags.String())
		})
	}
}
