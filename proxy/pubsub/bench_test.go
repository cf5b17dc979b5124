package pubsub_test

import (
	"strconv"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/pubsub"
)

// sink is a subscriber that counts what it is given.
type sink struct{ n, bytes int }

func (s *sink) Deliver(_ pubsub.Kind, pattern string, channel, message []byte) {
	s.n++
	s.bytes += len(pattern) + len(channel) + len(message)
}

// BenchmarkPublish: one message to 100 subscribers of its channel, with
// 50 patterns of which one matches; delivery allocates nothing.
func BenchmarkPublish(b *testing.B) {
	reg := pubsub.New()
	subs := make([]*sink, 100)
	for i := range subs {
		subs[i] = &sink{}
		reg.Subscribe(subs[i], pubsub.Channel, "news.sport")
	}
	for i := 0; i < 49; i++ {
		reg.Subscribe(&sink{}, pubsub.Pattern, "other."+strconv.Itoa(i)+".*")
	}
	reg.Subscribe(&sink{}, pubsub.Pattern, "news.*")
	ch, msg := []byte("news.sport"), []byte("goal")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if n := reg.Publish(false, ch, msg); n != 101 {
			b.Fatalf("delivered %d", n)
		}
	}
}

// BenchmarkMatch: a pattern with stars and a set against a channel name.
func BenchmarkMatch(b *testing.B) {
	pat, ch := "news.*.[a-m]*", []byte("news.sport.football")
	b.ReportAllocs()
	for range b.N {
		if !pubsub.Match(pat, ch) {
			b.Fatal("no match")
		}
	}
}
