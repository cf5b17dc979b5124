package ring

import (
	"bytes"
	"testing"
)

func FuzzParseTokens(f *testing.F) {
	for _, seed := range []string{
		"", "0", "4294967295", "4294967296", "1,2,3", "1,,2", ",", "1,", "-1",
		" 1", "007", "99999999999999999999", "1;2", "١", "\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, err := ParseTokens(s)
		if err != nil {
			if tokens != nil {
				t.Fatalf("ParseTokens(%q) returned tokens with an error", s)
			}
			return
		}
		if len(tokens) == 0 {
			t.Fatalf("ParseTokens(%q) accepted an empty list", s)
		}
		// A list that parses must survive a round trip (modulo leading
		// zeros, which FormatTokens drops).
		again, err := ParseTokens(FormatTokens(tokens))
		if err != nil {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		if len(again) != len(tokens) {
			t.Fatalf("round trip of %q: %v != %v", s, again, tokens)
		}
		for i := range tokens {
			if again[i] != tokens[i] {
				t.Fatalf("round trip of %q: %v != %v", s, again, tokens)
			}
		}
	})
}

func FuzzHashTag(f *testing.F) {
	f.Add([]byte("user:{1000}:profile"), byte('{'), byte('}'))
	f.Add([]byte("{}foo"), byte('{'), byte('}'))
	f.Add([]byte("a::b"), byte(':'), byte(':'))
	f.Add([]byte(""), byte('{'), byte('}'))
	f.Add([]byte("}{"), byte('{'), byte('}'))
	f.Fuzz(func(t *testing.T, key []byte, open, closing byte) {
		got := HashTag(key, [2]byte{open, closing})
		i := bytes.IndexByte(key, open)
		if len(got) == len(key) {
			// The whole key: only when there is no tag pair.
			if !bytes.Equal(got, key) {
				t.Fatalf("HashTag(%q) = %q: same length but not the key", key, got)
			}
			if i >= 0 && bytes.IndexByte(key[i+1:], closing) >= 0 {
				t.Fatalf("HashTag(%q) ignored a complete tag", key)
			}
			return
		}
		// A proper sub-slice: it must sit right after the first opening byte
		// and be followed by a closing byte, with no closing byte inside.
		if i < 0 || !bytes.HasPrefix(key[i+1:], got) {
			t.Fatalf("HashTag(%q) = %q: not right after the first %q", key, got, open)
		}
		end := i + 1 + len(got)
		if end >= len(key) || key[end] != closing || bytes.IndexByte(got, closing) >= 0 {
			t.Fatalf("HashTag(%q) = %q: not closed by the first %q", key, got, closing)
		}
	})
}

func FuzzHashes(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("key:1"))
	f.Add([]byte("héllo wörld"))
	f.Fuzz(func(t *testing.T, key []byte) {
		orig := bytes.Clone(key)
		for _, name := range HashNames() {
			fn, _ := HashByName(name)
			a := fn(key)
			if b := fn(bytes.Clone(key)); a != b {
				t.Fatalf("%s(%q) is not deterministic: %d != %d", name, key, a, b)
			}
			if !bytes.Equal(key, orig) {
				t.Fatalf("%s modified its key", name)
			}
		}
	})
}
