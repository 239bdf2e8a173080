#!/usr/bin/env bash
# The sold-tickets archive at scale (docs/scale.md): builds a month-partitioned ticket table in a scratch
# database, fills it with ROWS generated rows over MONTHS months, and prints sizes and EXPLAIN ANALYZE of
# the typical queries, with and without partition pruning, B-tree and BRIN on sold_at, then with 120 more
# (empty) monthly partitions. Bounded (the defaults, 8M rows over 4 months, take about 50 s on 2 cores and
# 1.3 GB of disk) and self-cleaning: the scratch database is dropped at the end, also on failure.
#
#   PGURL=postgres://postgres@127.0.0.1:5432/postgres ROWS=8000000 MONTHS=4 bash bench/archive-scale.sh
set -euo pipefail

PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"
ROWS="${ROWS:-8000000}"
MONTHS="${MONTHS:-4}"
SCRATCH="${SCRATCH:-boxoffice_scale_scratch}"
SCRATCH_URL="${PGURL%/*}/${SCRATCH}"

psql_admin() { psql "$PGURL" -X -v ON_ERROR_STOP=1 -q "$@"; }
psql_scratch() { psql "$SCRATCH_URL" -X -v ON_ERROR_STOP=1 -q "$@"; }

psql_admin -c "drop database if exists ${SCRATCH}"
psql_admin -c "create database ${SCRATCH}"
trap 'psql_admin -c "drop database if exists ${SCRATCH}" >/dev/null 2>&1 || true' EXIT

echo "== PostgreSQL: $(psql_scratch -Atc 'select version()')"
echo "== rows=${ROWS} months=${MONTHS}"

psql_scratch <<SQL
\timing on
-- One row per sold ticket, partitioned by month of sale. A partitioned table's unique keys must contain
-- the partition key, hence (id, sold_at).
create table tickets (
  id bigint not null,
  booking_id bigint not null,
  event_id bigint not null,
  user_id bigint not null,
  seat_id bigint not null,
  zone_id bigint not null,
  price numeric(12, 2) not null,
  sold_at timestamptz not null,
  primary key (id, sold_at)
) partition by range (sold_at);

select format('create table %I partition of tickets for values from (%L) to (%L)',
              'tickets_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month')
from generate_series(timestamptz '2024-01-01 00:00+00',
                     timestamptz '2024-01-01 00:00+00' + (${MONTHS} - 1) * interval '1 month',
                     interval '1 month') as m
\gexec

set maintenance_work_mem = '256MB';
set synchronous_commit = off;
-- Tickets arrive in time order (an archive is appended to). Each 200,000 consecutive sales belong to
-- 200 events on sale together (1,000 tickets each); buyers are spread over 1M users; 3 seats a booking.
\echo insert ${ROWS} rows:
insert into tickets
select i,
       i / 3,
       100000 + (i % 200) + 200 * (i / 200000),
       1 + (i * 2654435761) % 1000000,
       i,
       1 + (i % 5),
       (array[40000, 80000, 120000, 160000, 200000])[1 + (i % 5)],
       timestamptz '2024-01-01 00:00+00'
         + ((timestamptz '2024-01-01 00:00+00' + ${MONTHS} * interval '1 month') - timestamptz '2024-01-01 00:00+00')
           * (i::float8 / ${ROWS})
from generate_series(0, ${ROWS} - 1) as i;

-- A user's tickets (GET /api/bookings), an event's sales (analytics, refunds), time ranges (a day's revenue).
\echo index (user_id, sold_at):
create index tickets_user on tickets (user_id, sold_at);
\echo index (event_id):
create index tickets_event on tickets (event_id);
\echo vacuum analyze:
vacuum analyze tickets;
SQL

echo
echo "== sizes (heap, indexes, total; bytes per row)"
psql_scratch <<'SQL'
select c.relname,
       pg_size_pretty(pg_table_size(c.oid)) as heap,
       pg_size_pretty(pg_indexes_size(c.oid)) as indexes,
       pg_size_pretty(pg_total_relation_size(c.oid)) as total,
       round(pg_table_size(c.oid)::numeric / nullif(s.n_live_tup, 0), 1) as heap_b_per_row,
       round(pg_total_relation_size(c.oid)::numeric / nullif(s.n_live_tup, 0), 1) as total_b_per_row,
       s.n_live_tup as rows
from pg_class c join pg_stat_user_tables s on s.relid = c.oid
where c.relname like 'tickets_2%' order by c.relname;

select i.indexrelid::regclass as index, pg_size_pretty(pg_relation_size(i.indexrelid)) as size
from pg_index i join pg_class c on c.oid = i.indrelid
where c.relname = 'tickets_2024_01' order by 1;

select count(*) as rows,
       sum(pg_table_size(inhrelid)) as heap_bytes,
       sum(pg_indexes_size(inhrelid)) as index_bytes,
       sum(pg_total_relation_size(inhrelid)) as total_bytes,
       round(sum(pg_total_relation_size(inhrelid))::numeric / (select count(*) from tickets), 1) as total_b_per_row
from pg_inherits where inhparent = 'tickets'::regclass;
select count(*) as ticket_rows from tickets;
SQL

# Each query runs twice in one session; the second (warm) plan is the one printed. One core per query (no parallel
# workers), so figures compare across runs on a shared box; SETTINGS adds session settings.
explain() {
  local title="$1" sql="$2"
  local options="-c max_parallel_workers_per_gather=0 ${SETTINGS:-}"
  echo
  echo "== ${title}"
  echo "${sql}"
  # One session: the first run warms the backend's catalog caches as a pooled connection's would be.
  PGOPTIONS="$options" psql_scratch -c '\o /dev/null' -c "${sql}" -c '\o' \
    -c "explain (analyze, buffers, costs off, summary on) ${sql}"
}

USER_ID=424242
# The last month's start as a literal: a constant bound is pruned when planning; an expression such as
# now() - interval '1 month' (stable, not immutable) only when executing, after all partitions were planned.
LAST_MONTH=$(psql_scratch -Atc "select to_char(timestamptz '2024-01-01 00:00+00' + (${MONTHS} - 1) * interval '1 month', 'YYYY-MM-DD HH24:MI:SSOF')")
explain "a user's tickets, no time bound (every partition's index probed)" \
  "select id, event_id, seat_id, price, sold_at from tickets where user_id = ${USER_ID} order by sold_at desc limit 50"
explain "a user's tickets in the last month (pruned to one partition when planning)" \
  "select id, event_id, seat_id, price, sold_at from tickets where user_id = ${USER_ID} and sold_at >= '${LAST_MONTH}' order by sold_at desc limit 50"
explain "an event's sales, no time bound (every partition's index probed)" \
  "select zone_id, count(*), sum(price) from tickets where event_id = 100450 group by zone_id"
explain "an event's sales within its sale window (pruned)" \
  "select zone_id, count(*), sum(price) from tickets where event_id = 100450 and sold_at >= '2024-01-01 00:00+00' and sold_at < '2024-02-01 00:00+00' group by zone_id"

DAY="sold_at >= '2024-01-15 00:00+00' and sold_at < '2024-01-16 00:00+00'"
explain "a day's revenue, no index on sold_at (pruned to one partition, then a scan of the month)" \
  "select count(*), sum(price) from tickets where ${DAY}"
SETTINGS="-c enable_partition_pruning=off -c constraint_exclusion=off" \
  explain "a day's revenue, pruning off (every partition scanned)" "select count(*), sum(price) from tickets where ${DAY}"

echo "B-tree build:"
psql_scratch -c "\\timing on" -c "create index tickets_sold_btree on tickets (sold_at)"
explain "a day's revenue, B-tree on sold_at" "select count(*), sum(price) from tickets where ${DAY}"
index_sizes() {
  psql_scratch -c "select '$1' as index, pg_size_pretty(sum(pg_relation_size(inhrelid))) as all_partitions, pg_size_pretty(max(pg_relation_size(inhrelid))) as largest_month from pg_inherits where inhparent = '$1'::regclass"
}
index_sizes tickets_sold_btree
psql_scratch -c "drop index tickets_sold_btree"

echo "BRIN build:"
psql_scratch -c "\\timing on" -c "create index tickets_sold_brin on tickets using brin (sold_at) with (pages_per_range = 32)"
explain "a day's revenue, BRIN on sold_at (pages_per_range 32)" "select count(*), sum(price) from tickets where ${DAY}"
index_sizes tickets_sold_brin
explain "an hour's sales, BRIN on sold_at" \
  "select count(*), sum(price) from tickets where sold_at >= '2024-01-15 12:00+00' and sold_at < '2024-01-15 13:00+00'"

echo
echo "== ten years of months: 120 partitions before the filled ones (empty), then the unpruned queries again"
psql_scratch <<'SQL'
\timing on
select format('create table %I partition of tickets for values from (%L) to (%L)',
              'tickets_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month')
from generate_series(timestamptz '2014-01-01 00:00+00', timestamptz '2023-12-01 00:00+00', interval '1 month') as m
\gexec
SQL
psql_scratch -Atc "select count(*) || ' partitions' from pg_inherits where inhparent = 'tickets'::regclass"
explain "a user's tickets, no time bound, 124 partitions" \
  "select id, event_id, seat_id, price, sold_at from tickets where user_id = ${USER_ID} order by sold_at desc limit 50"
explain "a user's tickets in the last month, 124 partitions (pruned when planning: a constant bound)" \
  "select id, event_id, seat_id, price, sold_at from tickets where user_id = ${USER_ID} and sold_at >= '${LAST_MONTH}' order by sold_at desc limit 50"
explain "a user's tickets in the last month, 124 partitions (pruned when executing: a stable expression)" \
  "select id, event_id, seat_id, price, sold_at from tickets where user_id = ${USER_ID} and sold_at >= timestamptz '2024-01-01 00:00+00' + (${MONTHS} - 1) * interval '1 month' order by sold_at desc limit 50"
explain "an event's sales within its sale window, 124 partitions (pruned when planning)" \
  "select zone_id, count(*), sum(price) from tickets where event_id = 100450 and sold_at >= '2024-01-01 00:00+00' and sold_at < '2024-02-01 00:00+00' group by zone_id"
explain "an event's sales, no time bound, 124 partitions" \
  "select zone_id, count(*), sum(price) from tickets where event_id = 100450 group by zone_id"

echo
echo "== detaching a month (the archive's retention step) and dropping it"
psql_scratch -c "\\timing on" -c "alter table tickets detach partition tickets_2024_01" -c "drop table tickets_2024_01"
