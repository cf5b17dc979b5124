package resp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendRESP3(t *testing.T) {
	args := func(a ...string) [][]byte {
		out := make([][]byte, len(a))
		for i, s := range a {
			out[i] = []byte(s)
		}
		return out
	}
	for name, tc := range map[string]struct {
		reply string
		shape Shape
		args  [][]byte
		want  string
		ok    bool
	}{
		"a null bulk is null":             {"$-1\r\n", ShapePlain, nil, "_\r\n", true},
		"a null array is null":            {"*-1\r\n", ShapePlain, nil, "_\r\n", true},
		"nulls inside arrays":             {"*2\r\n$1\r\na\r\n$-1\r\n", ShapePlain, nil, "*2\r\n$1\r\na\r\n_\r\n", true},
		"a flat array is a map":           {"*2\r\n$1\r\nf\r\n$1\r\nv\r\n", ShapeMap, nil, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", true},
		"an odd array is no map":          {"*1\r\n$1\r\nf\r\n", ShapeMap, nil, "*1\r\n$1\r\nf\r\n", false},
		"a set":                           {"*1\r\n$1\r\n1\r\n", ShapeSet, nil, "~1\r\n$1\r\n1\r\n", true},
		"a double":                        {"$3\r\n1.5\r\n", ShapeDouble, nil, ",1.5\r\n", true},
		"scores without WITHSCORES":       {"*1\r\n$1\r\na\r\n", ShapeWithScores, args("zrange", "z", "0", "-1"), "*1\r\n$1\r\na\r\n", true},
		"scores with WITHSCORES":          {"*2\r\n$1\r\na\r\n$1\r\n1\r\n", ShapeWithScores, args("zrange", "z", "0", "-1", "withscores"), "*1\r\n*2\r\n$1\r\na\r\n,1\r\n", true},
		"ZPOPMIN without a count":         {"*2\r\n$1\r\na\r\n$1\r\n1\r\n", ShapePop, args("zpopmin", "z"), "*2\r\n$1\r\na\r\n,1\r\n", true},
		"verbatim text":                   {"$2\r\nhi\r\n", ShapeVerbatim, nil, "=6\r\ntxt:hi\r\n", true},
		"an error is unchanged":           {"-ERR x\r\n", ShapeMap, nil, "-ERR x\r\n", true},
		"a truncated reply is left alone": {"*2\r\n$1\r\na\r\n", ShapeMap, nil, "*2\r\n$1\r\na\r\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := AppendRESP3([]byte("x"), []byte(tc.reply), tc.shape, tc.args)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, "x"+tc.want, string(got))
		})
	}
}

// FuzzAppendRESP3: whatever the datastore sends, the conversion is one
// well-formed reply (or the input, unchanged) and never panics.
func FuzzAppendRESP3(f *testing.F) {
	for _, s := range []string{"$-1\r\n", "*-1\r\n", "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "$3\r\n1.5\r\n", "*3\r\n:1\r\n*1\r\n$-1\r\n+OK\r\n", "-ERR\r\n", "*2\r\n$1\r\na\r\n"} {
		for sh := range ShapeSetIfCount + 1 {
			f.Add([]byte(s), uint8(sh), true)
		}
	}
	f.Fuzz(func(t *testing.T, reply []byte, shape uint8, withScores bool) {
		if _, err := ParseReply(reply, nil); err != nil {
			return // the backend only hands over complete replies
		}
		n, _ := ParseReply(reply, nil)
		reply = reply[:n]
		args := [][]byte{[]byte("zrange"), []byte("k")}
		if withScores {
			args = append(args, []byte("WITHSCORES"))
		}
		out, ok := AppendRESP3(nil, reply, Shape(shape%uint8(ShapeSetIfCount+1)), args)
		if !ok {
			require.Equal(t, reply, out)
			return
		}
		k, err := ParseReply(out, nil)
		require.NoError(t, err, "%q → %q", reply, out)
		require.Equal(t, len(out), k)
	})
}
