package config

import (
	"bufio"
	"io"
)

// Describe writes every key with its effective value, one per line as
// "key: value", in the key table's order; lists (servers, dyn_seeds) follow
// with one "  - entry" line each. `dynomite -t` prints it after "syntax is
// valid". Write errors are ignored: this is a report for a terminal.
func (c *Config) Describe(w io.Writer) {
	bw := bufio.NewWriter(w)
	for i := range keys {
		k := &keys[i]
		v := k.val(c)
		if l, ok := v.(lister); ok {
			items := l.items()
			if len(items) == 0 {
				_, _ = bw.WriteString(k.name + ": []\n")
				continue
			}
			_, _ = bw.WriteString(k.name + ":\n")
			for _, it := range items {
				_, _ = bw.WriteString("  - " + it + "\n")
			}
			continue
		}
		_, _ = bw.WriteString(k.name + ": " + v.String() + "\n")
	}
	_ = bw.Flush()
}
