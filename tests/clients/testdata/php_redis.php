<?php
// phpredis (Debian's php-redis) with its default settings against a
// dynomite node: prints "RESULT<TAB>feature<TAB>ok|error" per feature.
// Run by clients_test.go.
[$host, $port] = [$argv[1], (int)$argv[2]];
$P = '{php}:';

function check($got, $want) {
    if ($got !== $want) {
        throw new Exception('got ' . json_encode($got) . ', want ' . json_encode($want));
    }
}

function result($feature, $fn) {
    try {
        $fn();
        echo "RESULT\t$feature\tok\n";
    } catch (Throwable $e) {
        echo "RESULT\t$feature\t" . get_class($e) . ': ' . preg_replace('/\s+/', ' ', $e->getMessage()) . "\n";
    }
}

$r = new Redis();
result('connection: connect with defaults', function () use ($r, $host, $port) {
    check($r->connect($host, $port, 5.0), true);
    check($r->ping(), true);
});
result('connection: CLIENT SETNAME, SELECT 0', function () use ($r) {
    check($r->client('setname', 'php-app'), true);
    check($r->client('getname'), 'php-app');
    check($r->select(0), true);
});
result('commands: strings', function () use ($r, $P) {
    $r->set($P . 's', 'v');
    check($r->get($P . 's'), 'v');
});
result('commands: hashes (HGETALL)', function () use ($r, $P) {
    $r->hMSet($P . 'h', ['a' => '1', 'b' => '2']);
    check($r->hGetAll($P . 'h'), ['a' => '1', 'b' => '2']);
});
result('commands: sorted sets (WITHSCORES, ZSCORE)', function () use ($r, $P) {
    $r->zAdd($P . 'z', 1, 'a', 2.5, 'b');
    check($r->zRange($P . 'z', 0, -1, true), ['a' => 1.0, 'b' => 2.5]);
    check($r->zScore($P . 'z', 'b'), 2.5);
});
result('pipeline: without transaction', function () use ($r, $P) {
    check($r->pipeline()->set($P . 'pp', '1')->incr($P . 'pp')->get($P . 'pp')->exec(), [true, 2, '2']);
});
result('transactions: MULTI/EXEC pipeline', function () use ($r, $P) {
    check($r->multi()->set($P . 't', '1')->incr($P . 't')->get($P . 't')->exec(), [true, 2, '2']);
});
result('transactions: WATCH', function () use ($r, $P) {
    $r->set($P . 'w', '5');
    $r->watch($P . 'w');
    $v = (int)$r->get($P . 'w');
    check($r->multi()->set($P . 'w', (string)($v + 1))->exec(), [true]);
    check($r->get($P . 'w'), '6');
});
result('scripts: SCRIPT LOAD, EVALSHA', function () use ($r, $P) {
    $sha = $r->script('load', "return redis.call('incr', KEYS[1])");
    check($r->evalSha($sha, [$P . 'sc'], 1), 1);
});
result('keyspace: SCAN iteration', function () use ($r, $P) {
    for ($i = 0; $i < 30; $i++) {
        $r->set($P . "scan:$i", (string)$i);
    }
    $r->setOption(Redis::OPT_SCAN, Redis::SCAN_RETRY);
    $seen = [];
    $it = null;
    while (($keys = $r->scan($it, $P . 'scan:*', 7)) !== false) {
        foreach ($keys as $k) {
            $seen[$k] = true;
        }
    }
    check(count($seen), 30);
});
result('keyspace: DBSIZE', function () use ($r) {
    $n = $r->dbSize();
    if ($n < 30) {
        throw new Exception("DBSIZE $n, want at least 30");
    }
});
