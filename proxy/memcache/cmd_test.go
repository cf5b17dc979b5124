package memcache

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

func TestCommandTableFlags(t *testing.T) {
	const (
		r, w, m, d, none = msg.FlagRead, msg.FlagWrite, msg.FlagMultiKey, msg.FlagDelete, msg.FlagKeyless
		array            = msg.FlagCoalesceArray
	)
	tests := map[string]struct {
		cmd   Cmd
		class msg.Class
		flags msg.Flags
	}{
		"get reads keys anywhere, one VALUE block per key": {CmdGet, msg.ClassRead, r | m | array},
		"gets too":                            {CmdGets, msg.ClassRead, r | m | array},
		"gat writes the expiry of its keys":   {CmdGat, msg.ClassWrite, w | m | array},
		"gats too":                            {CmdGats, msg.ClassWrite, w | m | array},
		"set writes":                          {CmdSet, msg.ClassWrite, w},
		"cas writes":                          {CmdCas, msg.ClassWrite, w},
		"incr writes":                         {CmdIncr, msg.ClassWrite, w},
		"touch writes":                        {CmdTouch, msg.ClassWrite, w},
		"delete deletes":                      {CmdDelete, msg.ClassWrite, w | d},
		"version goes to the local memcached": {CmdVersion, msg.ClassLocal, none},
		"quit is the proxy's":                 {CmdQuit, msg.ClassProxy, none},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := tc.cmd.Command()
			require.Equal(t, tc.class, c.Class)
			require.Equal(t, tc.flags.String(), c.Flags.String())
			require.Equal(t, tc.flags, tc.cmd.Flags())
		})
	}
	require.Equal(t, "unknown", Cmd(200).String())
	require.Zero(t, Cmd(200).Flags())
}

// TestEveryCommandHasConsistentFlags checks, for every command, the rules
// the router relies on, and that the parser routes as the table says.
func TestEveryCommandHasConsistentFlags(t *testing.T) {
	for cmd := CmdGet; int(cmd) < len(table); cmd++ {
		c := cmd.Command()
		f := c.Flags
		require.NotEqual(t, "unknown", c.Name)
		require.False(t, f.Has(msg.FlagRead|msg.FlagWrite), "%s: a read or a write, not both", c.Name)
		require.Equal(t, f.Has(msg.FlagMultiKey), f.Coalesce() != msg.CoalesceNone, "%s: multi-key commands say how they coalesce", c.Name)
		require.Equal(t, cmd.Retrieval(), f.Has(msg.FlagMultiKey), "%s: exactly the retrievals take several keys", c.Name)
		if f.Has(msg.FlagMultiKey) {
			require.Equal(t, msg.CoalesceArray, f.Coalesce(), "%s: VALUE blocks in key order", c.Name)
		}
		switch c.Class {
		case msg.ClassRead:
			require.True(t, f.Has(msg.FlagRead), c.Name)
		case msg.ClassWrite:
			require.True(t, f.Has(msg.FlagWrite), c.Name)
		case msg.ClassLocal, msg.ClassProxy:
			require.Equal(t, msg.FlagKeyless, f, c.Name)
		default:
			t.Fatalf("%s: class %s", c.Name, c.Class)
		}
		if f.Has(msg.FlagDelete) {
			require.True(t, f.Has(msg.FlagWrite), c.Name)
		}
	}
}

func TestParseRequestClassFollowsTheTable(t *testing.T) {
	var req Request
	for in, want := range map[string]Cmd{
		"get k\r\n": CmdGet, "gets k\r\n": CmdGets, "gat 1 k\r\n": CmdGat, "gats 1 k\r\n": CmdGats,
		"set k 0 0 1\r\nv\r\n": CmdSet, "cas k 0 0 1 9\r\nv\r\n": CmdCas, "incr k 1\r\n": CmdIncr,
		"decr k 1\r\n": CmdDecr, "touch k 1\r\n": CmdTouch, "delete k\r\n": CmdDelete,
		"version\r\n": CmdVersion, "quit\r\n": CmdQuit, "append k 0 0 1\r\nv\r\n": CmdAppend,
		"prepend k 0 0 1\r\nv\r\n": CmdPrepend, "add k 0 0 1\r\nv\r\n": CmdAdd, "replace k 0 0 1\r\nv\r\n": CmdReplace,
	} {
		_, err := ParseRequest([]byte(in), &req, nil)
		require.NoError(t, err, in)
		require.Equal(t, want, req.Cmd, in)
		require.Equal(t, want.Command().Class, req.Class, in)
	}
}
