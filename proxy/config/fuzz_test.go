package config

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

// FuzzParse checks that Parse never panics, that a rejected file always comes
// with at least one problem placed on a line of the file (or 0 for the whole
// file), and that an accepted file validates and describes itself.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		minimal,
		"dyn_o_mite:\n",
		"a: &x 1\nb: *x\n",
		"dyn_o_mite: {listen: [1, 2]}\n",
		"dyn_o_mite:\n  dyn_seeds:\n  - '[::1]:1:r:d:1,2 n'\n  - ::1:1:r:d:4294967296\n",
		"%YAML 1.2\n---\ndyn_o_mite:\n  listen: /tmp/s\n...\n---\nx: 1\n",
		"dyn_o_mite:\n  listen: \"\\x01\"\n  servers: |\n    a\n    b\n",
		"dyn_o_mite:\n  ? [a]\n  : b\n  <<: {x: 1}\n",
		"\ufeffdyn_o_mite:\r\n\ttimeout: 1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a Config with an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse returned %T, want *Errors", err)
			}
			if len(errs.Problems) == 0 {
				t.Fatalf("*Errors without problems")
			}
			lines := yamlLines(data)
			for _, p := range errs.Problems {
				if p.Line < 0 || p.Line > lines {
					t.Fatalf("problem %q on line %d of a %d-line file", p, p.Line, lines)
				}
				if p.Msg == "" {
					t.Fatalf("problem without a message: %#v", p)
				}
			}
			_ = err.Error()
			return
		}
		if c == nil {
			t.Fatalf("Parse returned neither a Config nor an error")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("an accepted file does not validate: %v", err)
		}
		var b bytes.Buffer
		c.Describe(&b)
		if b.Len() == 0 {
			t.Fatalf("empty Describe output")
		}
	})
}

// yamlLines counts lines as YAML does: "\r\n", "\r", "\n" and the Unicode
// breaks NEL, LS and PS each end one.
func yamlLines(data []byte) int {
	data = fromUTF16(data)
	n := 1
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			i++
			n++
		case data[i] == '\r' || data[i] == '\n':
			n++
		}
	}
	return n + bytes.Count(data, []byte("\u0085")) + bytes.Count(data, []byte("\u2028")) + bytes.Count(data, []byte("\u2029"))
}

// fromUTF16 converts a file that starts with a UTF-16 byte order mark to
// UTF-8, as the YAML parser reads it.
func fromUTF16(data []byte) []byte {
	if len(data) < 2 {
		return data
	}
	var order binary.ByteOrder
	switch {
	case data[0] == 0xfe && data[1] == 0xff:
		order = binary.BigEndian
	case data[0] == 0xff && data[1] == 0xfe:
		order = binary.LittleEndian
	default:
		return data
	}
	units := make([]uint16, 0, len(data)/2)
	for i := 2; i+1 < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return []byte(string(utf16.Decode(units)))
}
