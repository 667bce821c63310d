-- Analytics queries for the `sql` sink's table in PostgreSQL (docs/components/sql.md);
-- examples/sql-queries.sql holds the same queries for SQLite.
-- Each query is named by its "-- name:" line and takes psql variables (:room_id, :since, :uid);
-- tests/components/test_sql_examples.py runs every one of them. With psql:
--   psql "postgresql://livepipe@localhost/live" -v room_id=1000 -v uid=12345 \
--        -v since="extract(epoch from now() - interval '6 hours')" -f examples/sql-queries-postgres.sql

-- name: top_gifters
-- The ten users who gave the most paid gifts (in yuan) in a room since a time ("tonight").
SELECT uid, max(uname) AS uname,
       round(sum((data ->> 'total_coin')::numeric) / 1000, 2) AS yuan,
       count(*) AS gifts
FROM events
WHERE room_id = :room_id AND ts >= :since AND kind = 'gift' AND data ->> 'coin_type' = 'gold'
GROUP BY uid
ORDER BY yuan DESC, uid
LIMIT 10;

-- name: messages_per_minute
-- Chat messages per minute in a room since a time (minute = unix time of its start).
SELECT (floor(ts / 60) * 60)::bigint AS minute, count(*) AS messages
FROM events
WHERE room_id = :room_id AND ts >= :since AND kind = 'danmaku'
GROUP BY minute
ORDER BY minute;

-- name: viewer_history
-- Everything one viewer did, in every room, newest first.
SELECT to_timestamp(ts) AT TIME ZONE 'UTC' AS utc, room_id, kind, text
FROM events
WHERE uid = :uid
ORDER BY ts DESC
LIMIT 200;
