#!/usr/bin/env bash
# sqlite3 under the allocator, against the same run without it: a database
# the test generates (60 000 rows over three tables, indexes, joins,
# aggregates, window functions, updates, deletes, VACUUM, integrity check).
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd sqlite3

cat >"$JM_TMP/work.sql" <<'SQL'
PRAGMA cache_size = 500;
CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, score REAL);
CREATE TABLE product(id INTEGER PRIMARY KEY, label TEXT, price INTEGER, blob BLOB);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, product INTEGER,
                    qty INTEGER, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO customer SELECT i, 'customer-' || i || '-' || hex(i * 7919),
       'city' || (i % 97), (i * 37 % 1000) / 10.0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO product SELECT i, printf('product %05d %s', i, substr(hex(i * 104729), 1, 6)),
       (i * 13) % 997 + 1, zeroblob(i % 300 + 1) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
INSERT INTO orders SELECT i, (i * 7) % 20000 + 1, (i * 11) % 5000 + 1, i % 9 + 1,
       CASE WHEN i % 5 = 0 THEN replace(printf('%.*c', i % 200 + 1, 'x'), 'x', 'note ') END FROM n;
CREATE INDEX customer_city ON customer(city, score);
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_product ON orders(product, qty);
CREATE INDEX product_label ON product(label);
SELECT count(*), sum(qty), max(length(note)) FROM orders;
SELECT c.city, count(*), sum(o.qty * p.price), round(avg(c.score), 3)
  FROM orders o JOIN customer c ON c.id = o.customer JOIN product p ON p.id = o.product
  GROUP BY c.city ORDER BY 3 DESC LIMIT 10;
SELECT p.label, sum(o.qty) AS q FROM product p JOIN orders o ON o.product = p.id
  GROUP BY p.id ORDER BY q DESC, p.label LIMIT 10;
SELECT name, score, rank() OVER (PARTITION BY city ORDER BY score DESC, id) AS r
  FROM customer WHERE city IN ('city1', 'city50') ORDER BY city, r LIMIT 20;
SELECT group_concat(label, ';') FROM (SELECT label FROM product WHERE id % 250 = 0 ORDER BY label);
UPDATE orders SET note = upper(coalesce(note, 'none')) || id WHERE id % 3 = 0;
DELETE FROM orders WHERE qty = 4;
DELETE FROM customer WHERE id % 10 = 0;
SELECT count(*), sum(length(note)) FROM orders;
SELECT count(*) FROM orders WHERE customer NOT IN (SELECT id FROM customer);
VACUUM;
PRAGMA integrity_check;
SELECT count(*), total(score) FROM customer;
SELECT city, count(*) FROM customer GROUP BY city ORDER BY city LIMIT 5;
SQL

jm_compare sqlite sqlite3 -batch test.db ".read $JM_TMP/work.sql"
grep -qx ok "$JM_TMP/sqlite.jm.out" || fail "integrity_check did not say ok"
jm_proof sqlite sqlite3
echo "sqlite: same output with and without jmalloc"
