package pubsub_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/pubsub"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Deliver(kind pubsub.Kind, pattern string, channel, message []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprintf("%d/%s/%s/%s", kind, pattern, channel, message))
}

func TestRegistryDeliversByKindAndCounts(t *testing.T) {
	reg := pubsub.New()
	a, b := &recorder{}, &recorder{}
	reg.Subscribe(a, pubsub.Channel, "news")
	reg.Subscribe(a, pubsub.Channel, "news") // twice is once
	reg.Subscribe(a, pubsub.Pattern, "n*")
	reg.Subscribe(b, pubsub.Pattern, "n*")
	reg.Subscribe(b, pubsub.Shard, "news")

	require.Equal(t, 3, reg.Publish(false, []byte("news"), []byte("m1")))
	require.Equal(t, 1, reg.Publish(true, []byte("news"), []byte("m2")))
	require.Equal(t, 0, reg.Publish(true, []byte("nope"), []byte("m3")))
	require.ElementsMatch(t, []string{"0//news/m1", "1/n*/news/m1"}, a.got)
	require.ElementsMatch(t, []string{"1/n*/news/m1", "2//news/m2"}, b.got)

	require.Equal(t, []string{"news"}, reg.Names(pubsub.Channel, nil))
	require.Equal(t, []string{"news"}, reg.Names(pubsub.Shard, []byte("n?ws")))
	require.Empty(t, reg.Names(pubsub.Channel, []byte("x*")))
	require.Equal(t, []string{"n*"}, reg.Names(pubsub.Pattern, nil))
	require.Equal(t, 1, reg.Count(pubsub.Channel, []byte("news")))
	require.Equal(t, 1, reg.Count(pubsub.Shard, []byte("news")))

	reg.Unsubscribe(a, pubsub.Channel, "news")
	reg.Unsubscribe(a, pubsub.Pattern, "n*")
	reg.Unsubscribe(a, pubsub.Pattern, "never")
	require.Equal(t, 1, reg.Publish(false, []byte("news"), []byte("m4")))
	require.Len(t, a.got, 2, "a no longer hears anything")
	require.Empty(t, reg.Names(pubsub.Channel, nil), "a channel without subscribers is gone")
	require.Equal(t, 0, reg.Count(pubsub.Channel, []byte("news")))
}
