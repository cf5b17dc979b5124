package repair_test

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/repair"
)

func TestParseRead(t *testing.T) {
	good := map[string]repair.Reply{
		"*3\r\n$1\r\nE\r\n$3\r\n100\r\n$2\r\nv1\r\n":          {Status: 'E', Score: 100, Value: []byte("$2\r\nv1\r\n")},
		"*3\r\n$1\r\nR\r\n$5\r\n100.5\r\n$-1\r\n":             {Status: 'R', Score: 100.5, Value: []byte("$-1\r\n")},
		"*3\r\n$1\r\nX\r\n:0\r\n:1\r\n":                       {Status: 'X', Value: []byte(":1\r\n")},
		"*3\r\n$1\r\nE\r\n$13\r\n1764934290123\r\n$0\r\n\r\n": {Status: 'E', Score: 1764934290123, Value: []byte("$0\r\n\r\n")},
	}
	for in, want := range good {
		got, err := repair.ParseRead([]byte(in))
		if err != nil || got.Status != want.Status || got.Score != want.Score || !bytes.Equal(got.Value, want.Value) {
			t.Errorf("ParseRead(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "$3\r\nabc\r\n", "-ERR WRONGTYPE\r\n", "*2\r\n$1\r\nE\r\n$1\r\n1\r\n",
		"*3\r\n$1\r\nQ\r\n$1\r\n1\r\n$1\r\na\r\n",       // unknown status
		"*3\r\n$1\r\nE\r\n$3\r\nabc\r\n$1\r\na\r\n",     // score not a number
		"*3\r\n$1\r\nE\r\n$3\r\ninf\r\n$1\r\na\r\n",     // infinite
		"*3\r\n$1\r\nE\r\n$2\r\n-1\r\n$1\r\na\r\n",      // negative
		"*3\r\n$1\r\nE\r\n$1\r\n1\r\n$1\r\na\r\nextra",  // trailing bytes
		"*3\r\n$1\r\nE\r\n$1\r\n1\r\n*1\r\n$1\r\na\r\n", // value an array
		"*3\r\n$1\r\nE\r\n$1\r\n1\r\n$5\r\na\r\n",       // value cut short
		"*3\r\n$1\r\nE\r\n*-1\r\n$1\r\na\r\n",           // score a null array
	} {
		if _, err := repair.ParseRead([]byte(in)); !errors.Is(err, repair.ErrNotRepairable) {
			t.Errorf("ParseRead(%q): err %v, want ErrNotRepairable", in, err)
		}
	}
}

func FuzzParseRead(f *testing.F) {
	for _, s := range []string{
		"*3\r\n$1\r\nE\r\n$3\r\n100\r\n$2\r\nv1\r\n", "*3\r\n$1\r\nX\r\n:0\r\n$-1\r\n",
		"*3\r\n$1\r\nR\r\n$5\r\n100.5\r\n:0\r\n", "-ERR x\r\n", "*3\r\n$1\r\nE\r\n$1\r\n1\r\n$5\r\na\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := repair.ParseRead(b)
		if err != nil {
			if !errors.Is(err, repair.ErrNotRepairable) {
				t.Fatalf("error %v does not wrap ErrNotRepairable", err)
			}
			return
		}
		if r.Status != 'E' && r.Status != 'R' && r.Status != 'X' {
			t.Fatalf("status %q", r.Status)
		}
		if r.Score < 0 || len(r.Value) == 0 || !bytes.HasSuffix(b, r.Value) {
			t.Fatalf("parsed %+v from %q", r, b)
		}
		if repair.Newer(r, r) {
			t.Fatal("a reply is newer than itself")
		}
	})
}

func TestScoreIsExactAndOrdered(t *testing.T) {
	millis := int64(1764934290123)
	prev := -1.0
	for _, l := range []uint16{0, 1, 2, 1000, 2046, 2047} {
		s := repair.Score(hlc.Make(millis, l))
		if want := float64(millis) + float64(l)/2048; s != want {
			t.Errorf("Score(%d, %d) = %v, want %v", millis, l, s, want)
		}
		if s <= prev {
			t.Errorf("Score(%d, %d) = %v is not above %v", millis, l, s, prev)
		}
		prev = s
		if int64(s) != millis {
			t.Errorf("Score(%d, %d) = %v: the milliseconds changed", millis, l, s)
		}
	}
	if a, b := repair.Score(hlc.Make(millis, 2047)), repair.Score(hlc.Make(millis, 60000)); a != b {
		t.Errorf("the counter does not saturate: %v, %v", a, b)
	}
	if a, b := repair.Score(hlc.Make(millis, 65535)), repair.Score(hlc.Make(millis+1, 0)); a >= b {
		t.Errorf("a later millisecond does not win: %v >= %v", a, b)
	}
	// exact until 2^42 milliseconds (2109): the text reads back the same
	late := int64(1)<<42 - 1
	s := repair.Score(hlc.Make(late, 2047))
	if s != float64(late)+2047.0/2048 {
		t.Errorf("Score at 2^42-1 ms is not exact: %v", s)
	}
	txt := string(repair.AppendScore(nil, s))
	if back, err := strconv.ParseFloat(txt, 64); err != nil || back != s {
		t.Errorf("AppendScore(%v) = %s reads back as %v, %v", s, txt, back, err)
	}
}
