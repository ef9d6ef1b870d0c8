PRAGMA cache_size=-262144;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<100000)
INSERT INTO t SELECT i, (i*7919)%1000,
  printf('name-%08d-%s', (i*104729)%100000, substr('abcdefghijklmnopqrstuvwxyz', 1+i%26)),
  i*0.25 FROM s;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), count(DISTINCT b) FROM t;
SELECT a, count(*), sum(c) FROM t GROUP BY a ORDER BY count(*) DESC, a LIMIT 5;
CREATE TABLE u AS SELECT a, group_concat(b, ',') AS names FROM t GROUP BY a;
SELECT count(*), sum(length(names)) FROM u;
UPDATE t SET b = b || '-x' WHERE a % 3 = 0;
DELETE FROM t WHERE a % 5 = 0;
SELECT count(*), sum(length(b)) FROM t;
SELECT count(*), sum(length(u.names)) FROM t AS x JOIN u ON u.a = x.a WHERE x.id % 97 = 0;
SELECT b FROM t ORDER BY b DESC LIMIT 3;
SELECT substr(b, 6, 3) AS k, count(*), min(id), max(id) FROM t GROUP BY k ORDER BY k LIMIT 4;
.shell sleep 0.5; /work/wt/lean/jmctl/jmctl --socket /tmp/lean/sock stats $PPID
