// node-redis (Debian's node-redis) with its default settings against a
// dynomite node: prints "RESULT<TAB>feature<TAB>ok|error" per feature.
// Run by clients_test.go.
const { createClient } = require('redis');

const [host, port] = process.argv.slice(2);
const p = '{js}:';

function check(got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

async function main() {
  const r = createClient({ socket: { host, port: Number(port), reconnectStrategy: false } });
  r.on('error', () => {});
  const features = [
    ['connection: connect with defaults', async () => { await r.connect(); check(await r.ping(), 'PONG'); }],
    ['connection: CLIENT SETNAME, SELECT 0', async () => {
      await r.clientSetName('js-app'); // node-redis 4.5 answers undefined
      check(await r.clientGetName(), 'js-app');
      await r.select(0);
    }],
    ['commands: strings', async () => { await r.set(p + 's', 'v'); check(await r.get(p + 's'), 'v'); }],
    ['commands: hashes (HGETALL)', async () => {
      await r.hSet(p + 'h', { a: '1', b: '2' });
      check(await r.hGetAll(p + 'h'), { a: '1', b: '2' });
    }],
    ['commands: sorted sets (WITHSCORES, ZSCORE)', async () => {
      await r.zAdd(p + 'z', [{ score: 1, value: 'a' }, { score: 2.5, value: 'b' }]);
      check(await r.zRangeWithScores(p + 'z', 0, -1), [{ value: 'a', score: 1 }, { value: 'b', score: 2.5 }]);
      check(await r.zScore(p + 'z', 'b'), 2.5);
    }],
    ['pipeline: without transaction', async () => {
      check(await r.multi().set(p + 'pp', '1').incr(p + 'pp').get(p + 'pp').execAsPipeline(), ['OK', 2, '2']);
    }],
    ['transactions: MULTI/EXEC pipeline', async () => {
      check(await r.multi().set(p + 't', '1').incr(p + 't').get(p + 't').exec(), ['OK', 2, '2']);
    }],
    ['transactions: WATCH', async () => {
      await r.set(p + 'w', '5');
      const c = r.duplicate();
      c.on('error', () => {});
      await c.connect();
      try {
        await c.watch(p + 'w');
        const v = Number(await c.get(p + 'w'));
        check(await c.multi().set(p + 'w', String(v + 1)).exec(), ['OK']);
      } finally { await c.quit(); }
      check(await r.get(p + 'w'), '6');
    }],
    ['scripts: SCRIPT LOAD, EVALSHA', async () => {
      const sha = await r.scriptLoad("return redis.call('incr', KEYS[1])");
      check(await r.evalSha(sha, { keys: [p + 'sc'] }), 1);
    }],
    ['keyspace: SCAN iteration', async () => {
      for (let i = 0; i < 30; i++) await r.set(`${p}scan:${i}`, String(i));
      const seen = new Set();
      for await (const k of r.scanIterator({ MATCH: p + 'scan:*', COUNT: 7 })) seen.add(k);
      check(seen.size, 30);
    }],
    ['keyspace: DBSIZE', async () => {
      const n = await r.dbSize();
      if (n < 30) throw new Error(`DBSIZE ${n}, want at least 30`);
    }],
  ];
  for (const [name, fn] of features) {
    try {
      await fn();
      console.log(`RESULT\t${name}\tok`);
    } catch (e) {
      console.log(`RESULT\t${name}\t${String(e && e.message ? e.message : e).replace(/\s+/g, ' ')}`);
    }
  }
  try { await r.quit(); } catch (e) { /* closed already */ }
}

main().then(() => process.exit(0));
