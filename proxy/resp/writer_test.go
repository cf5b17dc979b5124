package resp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWritersProduceRESP2(t *testing.T) {
	tests := map[string]struct {
		got  []byte
		want string
	}{
		"an error":                       {got: AppendError(nil, "ERR unsupported command 'x'"), want: "-ERR unsupported command 'x'\r\n"},
		"an error with CR and LF inside": {got: AppendError(nil, "ERR a\r\nb\nc"), want: "-ERR a  b c\r\n"},
		"a simple string":                {got: AppendSimple(nil, "OK"), want: "+OK\r\n"},
		"a simple string with LF inside": {got: AppendSimple(nil, "a\nb"), want: "+a b\r\n"},
		"a bulk string":                  {got: AppendBulk(nil, []byte("a\r\nb")), want: "$4\r\na\r\nb\r\n"},
		"an empty bulk string":           {got: AppendBulk(nil, nil), want: "$0\r\n\r\n"},
		"a bulk string from a string":    {got: AppendBulkString(nil, "hello"), want: "$5\r\nhello\r\n"},
		"a null bulk string":             {got: AppendNullBulk(nil), want: "$-1\r\n"},
		"an integer":                     {got: AppendInt(nil, -42), want: ":-42\r\n"},
		"a null array header":            {got: AppendArrayHeader(nil, -7), want: "*-1\r\n"},
		"an array of two bulks":          {got: AppendBulk(AppendBulk(AppendArrayHeader(nil, 2), nil), []byte("x")), want: "*2\r\n$0\r\n\r\n$1\r\nx\r\n"},
		"a command":                      {got: AppendCommand(nil, [][]byte{[]byte("GET"), []byte("k")}), want: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"},
		"a command without arguments":    {got: AppendCommand(nil, nil), want: "*0\r\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, string(tc.got))
			n, err := ParseReply(tc.got, nil)
			require.NoError(t, err)
			require.Equal(t, len(tc.got), n, "the parser frames what the writers write")
		})
	}
}

func TestWritersAppendToWhatIsAlreadyThere(t *testing.T) {
	require.Equal(t, "+OK\r\n:1\r\n", string(AppendInt([]byte("+OK\r\n"), 1)))
	require.Equal(t, "*3\r\n", string(AppendArrayHeader(nil, 3)))
}

func TestAppendCommandReparsesToTheSameArguments(t *testing.T) {
	_, args, err := ParseRequest([]byte("SET \"a b\" 'c\\'d' \"\\x00\\r\\n\"\r\n"), nil, nil)
	require.NoError(t, err)
	enc := AppendCommand(nil, args)
	n, again, err := ParseRequest(enc, nil, nil)
	require.NoError(t, err)
	require.Equal(t, len(enc), n)
	require.Equal(t, strs(args), strs(again))
	require.False(t, IsInline(enc))
}

func TestWritersDoNotAllocateIntoABigEnoughBuffer(t *testing.T) {
	dst := make([]byte, 0, 256)
	args := [][]byte{[]byte("GET"), []byte("key")}
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendError(dst[:0], "ERR x")
		b = AppendSimple(b, "OK")
		b = AppendBulk(b, args[1])
		b = AppendInt(b, 12345)
		b = AppendNullBulk(b)
		_ = AppendCommand(b, args)
	})
	require.Zero(t, allocs)
}
