# ruby-redis (Debian's ruby-redis) with its default settings against a
# dynomite node: prints "RESULT<TAB>feature<TAB>ok|error" per feature.
# Run by clients_test.go.
require 'redis'

host, port = ARGV[0], ARGV[1].to_i
P = '{rb}:'
$stdout.sync = true

def check(got, want)
  raise "got #{got.inspect}, want #{want.inspect}" unless got == want
end

def result(feature)
  yield
  puts "RESULT\t#{feature}\tok"
rescue StandardError => e
  puts "RESULT\t#{feature}\t#{e.class}: #{e.message.gsub(/\s+/, ' ')}"
end

r = Redis.new(host: host, port: port, reconnect_attempts: 0)
result('connection: connect with defaults') { check(r.ping, 'PONG') }
result('connection: CLIENT SETNAME, SELECT 0') do
  check(r.call('CLIENT', 'SETNAME', 'rb-app'), 'OK')
  check(r.call('CLIENT', 'GETNAME'), 'rb-app')
  check(r.select(0), 'OK')
end
result('commands: strings') { r.set(P + 's', 'v'); check(r.get(P + 's'), 'v') }
result('commands: hashes (HGETALL)') { r.mapped_hmset(P + 'h', 'a' => '1', 'b' => '2'); check(r.hgetall(P + 'h'), 'a' => '1', 'b' => '2') }
result('commands: sorted sets (WITHSCORES, ZSCORE)') do
  r.zadd(P + 'z', [[1, 'a'], [2.5, 'b']])
  check(r.zrange(P + 'z', 0, -1, with_scores: true), [['a', 1.0], ['b', 2.5]])
  check(r.zscore(P + 'z', 'b'), 2.5)
end
result('pipeline: without transaction') do
  check(r.pipelined { |p| p.set(P + 'pp', '1'); p.incr(P + 'pp'); p.get(P + 'pp') }, ['OK', 2, '2'])
end
result('transactions: MULTI/EXEC pipeline') do
  check(r.multi { |m| m.set(P + 't', '1'); m.incr(P + 't'); m.get(P + 't') }, ['OK', 2, '2'])
end
result('transactions: WATCH') do
  r.set(P + 'w', '5')
  r.watch(P + 'w') do
    v = r.get(P + 'w').to_i
    r.multi { |m| m.set(P + 'w', (v + 1).to_s) }
  end
  check(r.get(P + 'w'), '6')
end
result('scripts: SCRIPT LOAD, EVALSHA') do
  sha = r.script(:load, "return redis.call('incr', KEYS[1])")
  check(r.evalsha(sha, keys: [P + 'sc']), 1)
end
result('keyspace: SCAN iteration') do
  30.times { |i| r.set("#{P}scan:#{i}", i.to_s) }
  check(r.scan_each(match: P + 'scan:*', count: 7).to_a.uniq.size, 30)
end
result('keyspace: DBSIZE') do
  n = r.dbsize
  raise "DBSIZE #{n}, want at least 30" if n < 30
end
