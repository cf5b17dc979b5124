package ring

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

var braces = [2]byte{'{', '}'}

func TestHashTag(t *testing.T) {
	tests := map[string]struct {
		key  string
		tag  [2]byte
		want string
	}{
		"a key without the tag is hashed whole":          {key: "user:1000", tag: braces, want: "user:1000"},
		"the bytes between the tags are hashed":          {key: "user:{1000}:profile", tag: braces, want: "1000"},
		"a tag at the start works":                       {key: "{user1000}.following", tag: braces, want: "user1000"},
		"an empty tag gives an empty, key-less result":   {key: "{}foo", tag: braces, want: ""},
		"only the first opening byte counts":             {key: "{a}{b}", tag: braces, want: "a"},
		"a second opening byte inside is part of it":     {key: "{a{b}c}", tag: braces, want: "a{b"},
		"a closing byte before the opening is ignored":   {key: "a}b{c}", tag: braces, want: "c"},
		"an opening byte without a closing one is whole": {key: "{abc", tag: braces, want: "{abc"},
		"a closing byte alone is hashed whole":           {key: "abc}", tag: braces, want: "abc}"},
		"the empty key stays empty":                      {key: "", tag: braces, want: ""},
		"the closing byte must come after the opening":   {key: "}{", tag: braces, want: "}{"},
		"equal tag bytes pair the first two":             {key: "a:b:c:d", tag: [2]byte{':', ':'}, want: "b"},
		"equal tag bytes side by side give empty":        {key: "a::b", tag: [2]byte{':', ':'}, want: ""},
		"one equal tag byte alone is hashed whole":       {key: "a:b", tag: [2]byte{':', ':'}, want: "a:b"},
		"other tag bytes work":                           {key: "x<id>y", tag: [2]byte{'<', '>'}, want: "id"},
		"binary bytes are just bytes":                    {key: "\x00\xff{\x80}\x01", tag: braces, want: "\x80"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, string(HashTag([]byte(tc.key), tc.tag)))
		})
	}
}

func TestHashTagAliasesTheKeyAndDoesNotAllocate(t *testing.T) {
	key := []byte("user:{1000}:profile")
	got := HashTag(key, braces)
	require.Equal(t, unsafe.Pointer(&key[6]), unsafe.Pointer(unsafe.SliceData(got)))
	require.Equal(t, len(got), cap(got), "the result must not expose the rest of the key to appends")
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = HashTag(key, braces) }))
}
