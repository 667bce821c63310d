-- Analytics queries for the `sql` sink's table (docs/components/sql.md).
-- Each query is named by its "-- name:" line and takes named parameters (:room_id, :since, ...);
-- tests/components/test_sql_examples.py runs every one of them. In the sqlite3 shell, set them first:
--   .param set :room_id 1000
--   .param set :since "unixepoch('now', '-6 hours')"
--   .param set :uid 12345

-- name: top_gifters
-- The ten users who gave the most paid gifts (in yuan) in a room since a time ("tonight").
SELECT uid, max(uname) AS uname,
       round(sum(json_extract(data, '$.total_coin')) / 1000.0, 2) AS yuan,
       count(*) AS gifts
FROM events
WHERE room_id = :room_id AND ts >= :since AND kind = 'gift' AND json_extract(data, '$.coin_type') = 'gold'
GROUP BY uid
ORDER BY yuan DESC, uid
LIMIT 10;

-- name: messages_per_minute
-- Chat messages per minute in a room since a time (minute = unix time of its start).
SELECT CAST(ts / 60 AS INTEGER) * 60 AS minute, count(*) AS messages
FROM events
WHERE room_id = :room_id AND ts >= :since AND kind = 'danmaku'
GROUP BY minute
ORDER BY minute;

-- name: viewer_history
-- Everything one viewer did, in every room, newest first.
SELECT datetime(ts, 'unixepoch') AS utc, room_id, kind, text
FROM events
WHERE uid = :uid
ORDER BY ts DESC
LIMIT 200;
