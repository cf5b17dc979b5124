package cli

import (
	"fmt"
	"time"

	"github.com/dynomite-go/dynomite/proxy/jobs"
)

// runStreams prints GET /streams: the node's data-movement jobs.
func runStreams(e *env, args []string) int {
	var list []jobs.Snapshot
	if code, done := e.show(args, "/streams", &list); done {
		return code
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no streams")
		return 0
	}
	tw := e.table()
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTEMPTS\tRANGES\tSCANNED\tCOPIED\tSKIPPED\tBYTES\tKEYS/S\tETA\tERRORS\tNAME")
	for _, s := range list {
		eta := "-"
		if s.ETASeconds >= 0 {
			eta = (time.Duration(s.ETASeconds * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d/%d\t%d\t%d\t%d\t%s\t%.0f\t%s\t%d\t%s\n", s.ID, s.Kind, s.State, s.Attempts,
			s.RangesDone, s.RangesTotal, s.KeysScanned, s.KeysCopied, s.KeysSkipped, bytesText(s.Bytes), s.KeysPerSec, eta,
			s.Errors, s.Name)
	}
	_ = tw.Flush()
	for _, s := range list {
		if s.LastError != "" {
			fmt.Fprintf(e.stdout, "stream %d (%s) last error: %s\n", s.ID, s.Kind, s.LastError)
		}
	}
	return 0
}

// bytesText is n in B, KiB, MiB or GiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, u := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB"} {
		if v < unit {
			break
		}
		v, u = v/unit, next
	}
	return fmt.Sprintf("%.1f%s", v, u)
}
