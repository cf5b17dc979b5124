package metrics_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
)

func TestJobsAreExportedAndSummedInInfo(t *testing.T) {
	m, reg := newAttached(t)
	val := func(name string, match map[string]string) float64 {
		v, ok := metricstest.Sum(t, reg, name, match)
		require.True(t, ok, "%s%v has no series", name, match)
		return v
	}
	warm := map[string]string{"kind": "warmup"}
	require.Equal(t, 0.0, val("dynomite_stream_jobs_running", warm), "every kind has a series before its first job")
	require.Equal(t, -1.0, val("dynomite_stream_eta_seconds", warm))

	j := m.Jobs().Start(jobs.Warmup, "from r2")
	j.Update(jobs.Progress{Scanned: 10, Copied: 8, Skipped: 2, Bytes: 80, KeysPerSec: 4, ETA: 5 * time.Second})
	require.Equal(t, 1.0, val("dynomite_stream_jobs_running", warm))
	require.Equal(t, 8.0, val("dynomite_stream_keys_copied_total", warm))
	require.Equal(t, 4.0, val("dynomite_stream_keys_per_second", warm))
	require.Equal(t, 5.0, val("dynomite_stream_eta_seconds", warm))

	var info map[string]any
	require.NoError(t, json.Unmarshal(m.Info(), &info))
	require.Equal(t, 1.0, info["warming_up"])
	require.Equal(t, 1.0, info["streams_running"])
	require.Equal(t, 8.0, info["stream_keys_copied"])

	j.Retry(errors.New("source gone"))
	j.Finish(errors.New("source gone again"))
	require.Equal(t, 2.0, val("dynomite_stream_attempts_failed_total", warm))
	require.Equal(t, 1.0, val("dynomite_stream_jobs_finished_total", map[string]string{"kind": "warmup", "outcome": "failed"}))
	require.Equal(t, 8.0, val("dynomite_stream_keys_copied_total", warm), "counters survive the job")
	require.Equal(t, 0.0, val("dynomite_stream_jobs_running", warm))
	require.NoError(t, json.Unmarshal(m.Info(), &info))
	require.Equal(t, 0.0, info["warming_up"])
	require.Equal(t, 2.0, info["streams_failed_attempts"])

	// a cleanup's deleted keys are its own field, not copies
	c := m.Jobs().Start(jobs.Cleanup, "keys outside (0, 5]")
	c.Update(jobs.Progress{Scanned: 30, Copied: 12})
	c.Finish(nil)
	require.Equal(t, 12.0, val("dynomite_stream_keys_copied_total", map[string]string{"kind": "cleanup"}))
	require.NoError(t, json.Unmarshal(m.Info(), &info))
	require.Equal(t, 12.0, info["cleanup_keys_deleted"])
	require.Equal(t, 8.0, info["stream_keys_copied"])
	require.Equal(t, "", info["scale_phase"])
}
