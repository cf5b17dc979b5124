// Package jobs keeps the data-movement jobs of a node (warm-up, anti-entropy
// repair, scaling) in one [Registry], so that an operator sees all of them in
// one place whatever started them: GET /streams on the stats listener (the
// `dynomite streams` command), a few summary fields in /info, and the
// dynomite_stream_* metrics (proxy/metrics).
//
// A job is started with [Registry.Start], reports the progress of the
// stream copying for it with [Job.Update] (a [stream.Progress], converted
// by [FromStream], or a [Progress] built by hand for work that is not a
// stream), and ends once with [Job.Finish]: done, failed, or aborted when
// its context was cancelled. A job that retries, as a warm-up does after a
// failed attempt, calls [Job.Retry] with the attempt's error: the job stays
// running, counts the failed attempt, keeps the error's text, and the
// counters of the attempt are kept when the next attempt starts from zero.
//
// Counters exported as metrics never go down: the registry adds the
// counters of every job it has known, including the finished ones it no
// longer lists (it keeps the last [KeepFinished] of them).
package jobs
