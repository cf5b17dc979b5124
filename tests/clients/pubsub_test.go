package clients

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// Pub/sub with the client libraries: a client subscribes through one node
// and another publishes through a different node (another rack), as an
// application spread over a cluster does. Rows "pub/sub: ...".
func TestPubSubClients(t *testing.T) {
	c := startCluster(t, clusterConfig{})
	t.Run("go-redis", func(t *testing.T) { goRedisPubSub(t, c.Addrs[1], c.Addrs[0]) })
	t.Run("redis-py", func(t *testing.T) {
		if _, err := os.Stat("/usr/bin/python3"); err != nil {
			proxytest.NeedBinary(t, "/usr/bin/python3", "python3-redis")
		}
		subHost, subPort, _ := net.SplitHostPort(c.Addrs[1])
		pubHost, pubPort, _ := net.SplitHostPort(c.Addrs[2])
		runScript(t, "redis-py", nil, []string{"/usr/bin/python3", "testdata/redis_py_pubsub.py", subHost, subPort, pubHost, pubPort})
	})
}

func goRedisPubSub(t *testing.T, subAddr, pubAddr string) {
	const client = "go-redis"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	subc := redis.NewClient(&redis.Options{Addr: subAddr})
	defer subc.Close()
	pubc := redis.NewClient(&redis.Options{Addr: pubAddr})
	defer pubc.Close()

	// receive waits for the next message of ps, skipping confirmations
	receive := func(ps *redis.PubSub) (any, error) {
		for {
			m, err := ps.ReceiveTimeout(ctx, 10*time.Second)
			if err != nil {
				return nil, err
			}
			if _, confirm := m.(*redis.Subscription); !confirm {
				return m, nil
			}
		}
	}
	// message waits for the next message of ps and says pattern, channel
	// and payload
	message := func(ps *redis.PubSub) (string, error) {
		m, err := receive(ps)
		if err != nil {
			return "", err
		}
		msg, ok := m.(*redis.Message)
		if !ok {
			return "", fmt.Errorf("got %T %v", m, m)
		}
		return strings.TrimSpace(msg.Pattern + " " + msg.Channel + " " + msg.Payload), nil
	}
	// confirmed waits for the confirmation of kind (go-redis's Subscribe
	// methods do not): a publish before it may not reach the subscriber,
	// with Redis as here
	confirmed := func(ps *redis.PubSub, kind string) error {
		for {
			m, err := ps.ReceiveTimeout(ctx, 10*time.Second)
			if err != nil {
				return err
			}
			if s, ok := m.(*redis.Subscription); ok && s.Kind == kind {
				return nil
			}
		}
	}
	publish := func(channel, msg string, want int64) error {
		n, err := pubc.Publish(ctx, channel, msg).Result()
		if err != nil {
			return err
		}
		return check(n, want)
	}

	ps := subc.Subscribe(ctx, "gr:news")
	defer ps.Close()
	record(t, client, "pub/sub: SUBSCRIBE, PUBLISH on another node", func() error {
		if err := confirmed(ps, "subscribe"); err != nil {
			return err
		}
		if err := publish("gr:news", "hello", 1); err != nil {
			return err
		}
		got, err := message(ps)
		if err != nil {
			return err
		}
		return check(got, "gr:news hello")
	}())

	record(t, client, "pub/sub: PSUBSCRIBE", func() error {
		if err := ps.PSubscribe(ctx, "gr:n*"); err != nil {
			return err
		}
		if err := confirmed(ps, "psubscribe"); err != nil {
			return err
		}
		if err := publish("gr:nx", "p", 1); err != nil {
			return err
		}
		got, err := message(ps)
		if err != nil {
			return err
		}
		return check(got, "gr:n* gr:nx p")
	}())

	record(t, client, "pub/sub: SSUBSCRIBE, SPUBLISH", func() error {
		sps := subc.SSubscribe(ctx, "gr:shard")
		defer sps.Close()
		if err := confirmed(sps, "ssubscribe"); err != nil {
			return err
		}
		n, err := pubc.SPublish(ctx, "gr:shard", "s").Result()
		if err != nil {
			return err
		}
		if err := check(n, 1); err != nil {
			return err
		}
		got, err := message(sps)
		if err != nil {
			return err
		}
		return check(got, "gr:shard s")
	}())

	record(t, client, "pub/sub: PUBSUB NUMSUB, CHANNELS, NUMPAT of the cluster", func() error {
		numsub, err := pubc.PubSubNumSub(ctx, "gr:news").Result()
		if err != nil {
			return err
		}
		if err := check(numsub["gr:news"], 1); err != nil {
			return err
		}
		chans, err := pubc.PubSubChannels(ctx, "gr:*").Result()
		if err != nil {
			return err
		}
		if err := check(chans, []string{"gr:news"}); err != nil {
			return err
		}
		numpat, err := pubc.PubSubNumPat(ctx).Result()
		if err != nil {
			return err
		}
		return check(numpat, 1)
	}())

	record(t, client, "pub/sub: UNSUBSCRIBE", func() error {
		if err := ps.Unsubscribe(ctx, "gr:news"); err != nil {
			return err
		}
		if err := ps.PUnsubscribe(ctx, "gr:n*"); err != nil {
			return err
		}
		// the unsubscription is applied when the node confirms it: wait for
		// the count to drop
		deadline := time.Now().Add(10 * time.Second)
		for {
			numsub, err := pubc.PubSubNumSub(ctx, "gr:news").Result()
			if err != nil {
				return err
			}
			if numsub["gr:news"] == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("NUMSUB still %d", numsub["gr:news"])
			}
			time.Sleep(50 * time.Millisecond)
		}
		return publish("gr:news", "gone", 0)
	}())
}
