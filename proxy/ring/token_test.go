package ring

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseToken(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Token
		wantErr string
	}{
		"zero is a token":                       {in: "0", want: 0},
		"the largest uint32 is a token":         {in: "4294967295", want: MaxToken},
		"leading zeros are allowed":             {in: "007", want: 7},
		"a typical generated token":             {in: "1383429731", want: 1383429731},
		"one above uint32 is rejected":          {in: "4294967296", wantErr: "above 4294967295"},
		"a huge value is rejected":              {in: "99999999999999999999999", wantErr: "above 4294967295"},
		"an empty string is rejected":           {in: "", wantErr: "empty"},
		"a minus sign is rejected":              {in: "-1", wantErr: "not a decimal number"},
		"a plus sign is rejected":               {in: "+1", wantErr: "not a decimal number"},
		"a leading space is rejected":           {in: " 1", wantErr: "not a decimal number"},
		"a trailing space is rejected":          {in: "1 ", wantErr: "not a decimal number"},
		"letters are rejected":                  {in: "12a", wantErr: `"12a": not a decimal number`},
		"hex is rejected":                       {in: "0x10", wantErr: "not a decimal number"},
		"an underscore separator is rejected":   {in: "1_000", wantErr: "not a decimal number"},
		"a non-ASCII digit is rejected":         {in: "١٢", wantErr: "not a decimal number"},
		"a list is not a single token":          {in: "1,2", wantErr: "not a decimal number"},
		"ten digits above the range are caught": {in: "9999999999", wantErr: "above 4294967295"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseToken(tc.in)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidToken)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseTokens(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []Token
		wantErr string
	}{
		"one token":                          {in: "12345", want: []Token{12345}},
		"three tokens keep their order":      {in: "3,1,2", want: []Token{3, 1, 2}},
		"duplicates are kept for the caller": {in: "5,5", want: []Token{5, 5}},
		"the extremes parse":                 {in: "0,4294967295", want: []Token{0, MaxToken}},
		"an empty list is rejected":          {in: "", wantErr: "list: empty"},
		"an empty item is rejected":          {in: "1,,2", wantErr: `"" (item 2 of "1,,2"): empty`},
		"a trailing comma is rejected":       {in: "1,2,", wantErr: "(item 3 of"},
		"a leading comma is rejected":        {in: ",1", wantErr: "(item 1 of"},
		"spaces after commas are rejected":   {in: "1, 2", wantErr: `" 2" (item 2 of "1, 2"): not a decimal number`},
		"an out-of-range item is rejected":   {in: "1,4294967296", wantErr: "above 4294967295"},
		"another separator is rejected":      {in: "1;2", wantErr: "not a decimal number"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTokens(tc.in)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidToken)
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestFormatTokensRoundTrips(t *testing.T) {
	tokens := []Token{0, 1, 4294967295, 1383429731}
	s := FormatTokens(tokens)
	require.Equal(t, "0,1,4294967295,1383429731", s)
	back, err := ParseTokens(s)
	require.NoError(t, err)
	require.Equal(t, tokens, back)
	require.Equal(t, "", FormatTokens(nil))
	require.Equal(t, "4294967295", MaxToken.String())
}
