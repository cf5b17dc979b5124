package resp

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

func TestFlagsOfSampleCommands(t *testing.T) {
	const (
		r, w, m, s     = msg.FlagRead, msg.FlagWrite, msg.FlagMultiKey, msg.FlagScript
		none, lr, d    = msg.FlagKeyless, msg.FlagLocalRackOnly, msg.FlagDelete
		array, sum, ok = msg.FlagCoalesceArray, msg.FlagCoalesceSum, msg.FlagCoalesceStatus
	)
	tests := map[string]struct {
		name   string
		flags  msg.Flags
		answer Answer
	}{
		"GET reads one key":                                 {"get", r, AnswerNone},
		"SET writes one key":                                {"set", w, AnswerNone},
		"HGETALL reads from the local rack only":            {"hgetall", r | lr, AnswerNone},
		"ZSCAN reads from the local rack only":              {"zscan", r | lr, AnswerNone},
		"MGET reads keys anywhere, one element per key":     {"mget", r | m | array, AnswerNone},
		"EXISTS reads keys anywhere and sums":               {"exists", r | m | sum, AnswerNone},
		"DEL deletes keys anywhere and sums":                {"del", w | m | sum | d, AnswerNone},
		"UNLINK writes keys anywhere and sums":              {"unlink", w | m | sum, AnswerNone},
		"MSET writes pairs anywhere and answers one status": {"mset", w | m | ok, AnswerNone},
		"EVAL is a script that writes":                      {"eval", w | s, AnswerNone},
		"EVALSHA_RO is a script that reads":                 {"evalsha_ro", r | s, AnswerNone},
		"SUNIONSTORE writes, its keys are not a script's":   {"sunionstore", w, AnswerNone},
		"PING has no key":                                   {"ping", none, AnswerNone},
		"SCRIPT has no key":                                 {"script", none, AnswerNone},
		"QUIT is answered by the proxy":                     {"quit", none, AnswerQuit},
		"ECHO is answered by the proxy":                     {"echo", none, AnswerEcho},
		"HELLO is the session's":                            {"hello", none, AnswerHello},
		"COMMAND is answered from the table":                {"command", none, AnswerCommand},
		"SCAN walks the rack":                               {"scan", none, AnswerScan},
		"DYNO_CONFIG sets the connection's levels":          {"dyno_config:conn_consistency", none, AnswerConnConsistency},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustLookup(t, tc.name)
			require.Equal(t, tc.flags.String(), c.Flags.String())
			require.Equal(t, tc.flags, c.Flags)
			require.Equal(t, tc.answer, c.Answer)
		})
	}
}

// TestEveryCommandHasConsistentFlags checks the rules the router relies on
// for every command of the table.
func TestEveryCommandHasConsistentFlags(t *testing.T) {
	for _, c := range Commands() {
		f := c.Flags
		read, write := f.Has(msg.FlagRead), f.Has(msg.FlagWrite)
		keyless := c.FirstKey == 0 && c.NumKeysAt == 0
		require.Equal(t, keyless, f.Has(msg.FlagKeyless), "%s: key-less exactly when it has no key positions", c.Name)
		require.False(t, read && write, "%s: a read or a write, not both", c.Name)
		require.Equal(t, c.Class == msg.ClassMultiKey, f.Has(msg.FlagMultiKey), "%s: multi-key flag and class agree", c.Name)
		require.Equal(t, f.Has(msg.FlagMultiKey), f.Coalesce() != msg.CoalesceNone, "%s: multi-key commands say how they coalesce", c.Name)
		require.Equal(t, c.Class == msg.ClassProxy, c.Answer != AnswerNone, "%s: the proxy answers exactly the proxy class", c.Name)
		switch c.Class {
		case msg.ClassRead:
			require.True(t, read, "%s: a read has the read flag", c.Name)
		case msg.ClassWrite:
			require.True(t, write, "%s: a write has the write flag", c.Name)
		case msg.ClassMultiKey:
			require.True(t, read || write, "%s: a multi-key command reads or writes", c.Name)
			require.Positive(t, c.FirstKey, "%s: multi-key commands have keys at fixed positions", c.Name)
			require.Equal(t, -1, c.LastKey, "%s: multi-key keys run to the last argument", c.Name)
		default:
			require.True(t, keyless, "%s: local, all-node and proxy commands have no key", c.Name)
			require.False(t, read || write, "%s: key-less commands are neither reads nor writes", c.Name)
		}
		if f.Coalesce() == msg.CoalesceArray {
			require.True(t, read, "%s: one element per key is a read, decided key by key", c.Name)
		}
		if f.Has(msg.FlagLocalRackOnly) {
			require.Equal(t, msg.ClassRead, c.Class, "%s: local-rack-only applies to reads", c.Name)
		}
		if f.Has(msg.FlagDelete) {
			require.True(t, write, "%s: a delete is a write", c.Name)
		}
		if f.Has(msg.FlagScript) {
			require.True(t, c.NumKeysAt > 0 && c.FirstKey == 0, "%s: a script's keys follow numkeys", c.Name)
			require.NotNil(t, c.check, "%s: a script's numkeys is checked", c.Name)
		}
	}
}

func TestKeyCountIsTheNumberOfKeys(t *testing.T) {
	for name, a := range map[string][][]byte{
		"GET has one key":                  args("GET", "k"),
		"MGET counts every argument":       args("MGET", "a", "b", "c"),
		"MSET counts the pairs":            args("MSET", "a", "1", "b", "2"),
		"RPOPLPUSH has two":                args("RPOPLPUSH", "a", "b"),
		"JSON.MGET ends with a path":       args("JSON.MGET", "a", "b", "$"),
		"EVAL counts numkeys":              args("EVAL", "s", "2", "a", "b", "x"),
		"ZUNIONSTORE adds its destination": args("ZUNIONSTORE", "d", "2", "a", "b"),
		"EVAL with a bad numkeys has none": args("EVAL", "s", "9", "a"),
		"PING has none":                    args("PING"),
		"a short MGET has none":            args("MGET"),
	} {
		t.Run(name, func(t *testing.T) {
			c := mustLookup(t, string(a[0]))
			require.Equal(t, len(c.Keys(a, nil)), c.KeyCount(a))
		})
	}
	mget := mustLookup(t, "mget")
	a := args("MGET", "a", "b")
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = mget.KeyCount(a) }))
}
