package pubsub

import (
	"slices"
	"sync"
)

// Kind is what a subscription names.
type Kind uint8

const (
	// Channel: SUBSCRIBE, messages published with PUBLISH.
	Channel Kind = iota
	// Pattern: PSUBSCRIBE, a glob over PUBLISH's channels.
	Pattern
	// Shard: SSUBSCRIBE, messages published with SPUBLISH. Shard channels
	// are a namespace of their own, as in Redis.
	Shard
	numKinds
)

// Subscriber is one subscribed connection as the registry sees it.
type Subscriber interface {
	// Deliver hands over one message: kind is Channel or Shard for a
	// subscription to the channel itself, Pattern for one to pattern
	// ("" otherwise). It runs on the publisher's goroutine with the
	// registry's read lock held: it must not block and must not call the
	// registry. The slices are valid only during the call.
	Deliver(kind Kind, pattern string, channel, message []byte)
}

// Registry holds one node's subscriptions. It is safe for concurrent use.
// Delivery holds a read lock: once Unsubscribe returns, no message for that
// subscription is being or will be delivered, which lets a connection
// write every message delivered before its UNSUBSCRIBE confirmation.
type Registry struct {
	mu   sync.RWMutex
	subs [numKinds]map[string]map[Subscriber]struct{}
}

// New returns an empty registry.
func New() *Registry {
	r := &Registry{}
	for k := range r.subs {
		r.subs[k] = map[string]map[Subscriber]struct{}{}
	}
	return r
}

// Subscribe adds s to name's subscribers (kind Channel, Pattern or Shard).
// Subscribing twice is one subscription.
func (r *Registry) Subscribe(s Subscriber, kind Kind, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.subs[kind][name]
	if set == nil {
		set = map[Subscriber]struct{}{}
		r.subs[kind][name] = set
	}
	set[s] = struct{}{}
}

// Unsubscribe removes s from name's subscribers, if it was one.
func (r *Registry) Unsubscribe(s Subscriber, kind Kind, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.subs[kind][name]
	delete(set, s)
	if len(set) == 0 {
		delete(r.subs[kind], name)
	}
}

// Publish delivers message to the subscribers of channel and returns how
// many deliveries it made, which is what Redis's PUBLISH returns: one per
// subscriber of the channel plus one per (subscriber, pattern) pair that
// matches it. With shard, it is SPUBLISH: the shard channel's subscribers
// only.
func (r *Registry) Publish(shard bool, channel, message []byte) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	kind := Channel
	if shard {
		kind = Shard
	}
	for s := range r.subs[kind][string(channel)] {
		s.Deliver(kind, "", channel, message)
		n++
	}
	if shard {
		return n
	}
	for pat, set := range r.subs[Pattern] {
		if !Match(pat, channel) {
			continue
		}
		for s := range set {
			s.Deliver(Pattern, pat, channel, message)
			n++
		}
	}
	return n
}

// Names returns the channels (kind Channel or Shard) with at least one
// subscriber that match pattern (every one when pattern is nil), or, for
// kind Pattern, the patterns subscribed to. The list is sorted (Redis
// returns its dictionary's order, which no client can rely on).
func (r *Registry) Names(kind Kind, pattern []byte) []string {
	r.mu.RLock()
	out := make([]string, 0, len(r.subs[kind]))
	for name := range r.subs[kind] {
		if pattern == nil || Match(pattern, name) {
			out = append(out, name)
		}
	}
	r.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Count is the number of subscribers of name (PUBSUB NUMSUB for kind
// Channel, SHARDNUMSUB for Shard). Pattern subscribers are not counted,
// as in Redis.
func (r *Registry) Count(kind Kind, name []byte) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.subs[kind][string(name)])
}
