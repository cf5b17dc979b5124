// Package pubsub is one node's registry of Redis pub/sub subscriptions:
// which client connections listen to which channels, patterns and shard
// channels, and the delivery of a published message to them.
//
// The registry lives in the proxy's process, not in the datastore: a
// subscribed client would otherwise pin a datastore connection of its own
// for as long as it listens (Redis answers a subscribed connection with
// nothing but messages), and a node serves many more clients than it keeps
// datastore connections. The proxy package owns the client side (the
// commands, their replies, the output buffer of each subscriber) and the
// cluster side (a PUBLISH is delivered here and sent once to every other
// node, which delivers it to its own registry without sending it on).
//
// Delivery never blocks: [Subscriber.Deliver] appends to the subscriber's
// own buffer and returns. A publisher therefore waits for no subscriber,
// and a subscriber that does not read is the proxy's to disconnect (its
// client-output-buffer-limit pubsub, after Redis's networking.c
// checkClientOutputBufferLimits).
//
// [Match] is Redis's glob matching (util.c stringmatchlen), used for
// PSUBSCRIBE patterns and PUBSUB CHANNELS.
package pubsub
