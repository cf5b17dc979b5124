package ring

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// vectorsPerHash is how many keys the golden file holds for each hash.
const vectorsPerHash = 124

// upstreamVectorHashes are the hashes the golden file covers: all of
// upstream's except murmur3, whose upstream version never writes a token.
var upstreamVectorHashes = []string{
	"one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64",
	"fnv1a_64", "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins",
}

type hashVector struct {
	line  int
	hash  string
	key   string
	token uint32
}

// readHashVectors parses testdata/hash-vectors.tsv: a header line, then
// hash<TAB>key<TAB>token rows. Keys are raw bytes (UTF-8 where not ASCII), with
// no escaping; the file has no tabs or newlines inside keys.
func readHashVectors(tb testing.TB) []hashVector {
	tb.Helper()
	f, err := os.Open("testdata/hash-vectors.tsv")
	require.NoError(tb, err)
	defer f.Close()

	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var rows []hashVector
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			require.Equal(tb, "hash\tkey\ttoken", text, "header")
			continue
		}
		fields := strings.Split(text, "\t")
		require.Len(tb, fields, 3, "line %d: want hash, key, token", line)
		tok, err := strconv.ParseUint(fields[2], 10, 32)
		require.NoError(tb, err, "line %d: token", line)
		rows = append(rows, hashVector{line: line, hash: fields[0], key: fields[1], token: uint32(tok)})
	}
	require.NoError(tb, sc.Err())
	return rows
}

// unwrittenToken reports whether upstream returns without writing the token
// for this (hash, key): hsieh and jenkins do so for the empty key. The golden
// generator reused one token for every hash, so such a row records the value
// the previous row's hash left behind.
func unwrittenToken(hash, key string) bool {
	return key == "" && (hash == "hsieh" || hash == "jenkins")
}

func TestHashVectorsMatchUpstream(t *testing.T) {
	rows := readHashVectors(t)

	perHash := map[string]int{}
	firstKey := map[string]string{}
	checked := 0
	for i, r := range rows {
		fn, ok := HashByName(r.hash)
		require.True(t, ok, "line %d: unknown hash %q", r.line, r.hash)
		if _, seen := firstKey[r.hash]; !seen {
			firstKey[r.hash] = r.key
		}
		perHash[r.hash]++
		checked++

		got := fn([]byte(r.key))
		if unwrittenToken(r.hash, r.key) {
			// Our value is the zeroed token; the golden value must be
			// exactly what the previous row (same key, previous hash) wrote.
			require.Equal(t, uint32(0), got, "line %d: %s(%q)", r.line, r.hash, r.key)
			require.Positive(t, i, "line %d: unwritten token on the first row", r.line)
			prev := rows[i-1]
			require.Equal(t, r.key, prev.key, "line %d: previous row has another key", r.line)
			require.Equal(t, prev.token, r.token,
				"line %d: %s(%q) should hold the token %s left behind", r.line, r.hash, r.key, prev.hash)
			continue
		}
		require.Equal(t, r.token, got, "line %d: %s(%q)", r.line, r.hash, r.key)
	}

	require.Len(t, perHash, len(upstreamVectorHashes), "hashes in the golden file: %v", perHash)
	for _, name := range upstreamVectorHashes {
		require.Equal(t, vectorsPerHash, perHash[name], "rows for %s", name)
		require.Equal(t, "", firstKey[name], "first key for %s must be the empty string", name)
	}
	require.Equal(t, vectorsPerHash*len(upstreamVectorHashes), checked)
	t.Logf("checked %d golden rows (%d hashes x %d keys)", checked, len(perHash), vectorsPerHash)
}

func TestMurmur3MatchesReferenceVectors(t *testing.T) {
	// Published MurmurHash3_x86_32 values (SMHasher and its ports).
	tests := map[string]struct {
		key  string
		seed uint32
		want uint32
	}{
		"empty key with seed zero":           {"", 0, 0},
		"empty key with seed one":            {"", 1, 0x514e28b7},
		"empty key with all-ones seed":       {"", 0xffffffff, 0x81f16f39},
		"four zero bytes":                    {"\x00\x00\x00\x00", 0, 0x2362f9de},
		"one-byte tail":                      {"\x21", 0, 0x72661cf4},
		"two-byte tail":                      {"\x21\x43", 0, 0xa0f7b07a},
		"three-byte tail":                    {"\x21\x43\x65", 0, 0x7e4a8634},
		"one full block":                     {"\x21\x43\x65\x87", 0, 0xf55b516b},
		"aaaa with seed 0x9747b28c":          {"aaaa", 0x9747b28c, 0x5a97808a},
		"Hello, world! with seed 0x9747b28c": {"Hello, world!", 0x9747b28c, 0x24884cba},
		"quick brown fox with seed 0x9747b28c": {
			"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, murmur3x86([]byte(tc.key), tc.seed))
		})
	}

	fn, err := ParseHash("murmur3")
	require.NoError(t, err)
	require.Equal(t, murmur3x86([]byte("key:1"), 0xc0a1e5ce), fn([]byte("key:1")),
		"murmur3 uses upstream's MURMUR3_SEED")
}

func TestParseHash(t *testing.T) {
	tests := map[string]struct {
		name    string
		wantErr string
	}{
		"the default murmur is known":            {name: "murmur"},
		"every upstream name is known":           {name: "fnv1a_64"},
		"murmur3 is known":                       {name: "murmur3"},
		"names are case-sensitive":               {name: "MURMUR", wantErr: `unknown hash "MURMUR"`},
		"a dash is not an underscore":            {name: "fnv1a-64", wantErr: `unknown hash "fnv1a-64"`},
		"a distribution is not a hash":           {name: "ketama", wantErr: `unknown hash "ketama"`},
		"the empty name is rejected":             {name: "", wantErr: `unknown hash ""`},
		"the error lists the valid names":        {name: "x", wantErr: "valid: one_at_a_time, md5, crc16"},
		"surrounding spaces are not trimmed off": {name: " murmur", wantErr: `unknown hash " murmur"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fn, err := ParseHash(tc.name)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrUnknownHash)
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, fn)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, fn)
		})
	}
}

func TestHashNamesAreUpstreamsInOrder(t *testing.T) {
	require.Equal(t, append(append([]string{}, upstreamVectorHashes...), "murmur3"), HashNames())
	for _, name := range HashNames() {
		_, ok := HashByName(name)
		require.True(t, ok, name)
	}
}

func TestHashesDoNotAllocate(t *testing.T) {
	key := []byte("0123456789abcdef-and-a-bit-more")
	for _, name := range HashNames() {
		fn, _ := HashByName(name)
		allocs := testing.AllocsPerRun(100, func() { _ = fn(key) })
		require.Zero(t, allocs, "%s allocates", name)
	}
}

func TestHashesAgreeOnEveryTailLength(t *testing.T) {
	// Every function must give the same answer for a key whether or not it
	// sits at the start of a larger buffer (no reads past the end, no
	// dependence on alignment), for all tail lengths.
	buf := make([]byte, 64)
	for i := range buf {
		buf[i] = byte(0x80 + i*7)
	}
	for _, name := range HashNames() {
		fn, _ := HashByName(name)
		for n := 0; n <= 40; n++ {
			for off := 0; off < 4; off++ {
				shifted := make([]byte, n)
				copy(shifted, buf[off:off+n])
				require.Equal(t, fn(shifted), fn(buf[off:off+n:off+n]), fmt.Sprintf("%s len %d off %d", name, n, off))
			}
		}
	}
}
