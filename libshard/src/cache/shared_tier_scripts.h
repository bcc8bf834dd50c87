// The shared tier's Lua scripts. Each runs atomically on the Redis server,
// which is what makes a lookup-with-lease and a fill race-free: no command
// of another client (a writer's DEL, another reader's lookup) runs between
// a script's reads and its writes.
//
// A key is a hash: v = version (decimal), u = updated_us (decimal), b = the
// MessagePack body, plus one field per outstanding lease,
// l:<token prefix>:<i> = the server's time in ms when it was taken, and,
// after a write's early invalidation, f = the version floor: no fill of an
// older version is stored.
// Times come from the server's clock (TIME), so clients' clocks never
// matter. Numbers are formatted with %d: Redis would print a Lua number
// passed to a command in its own float format.
#pragma once

#include <string_view>

namespace libshard::cache {

// KEYS = the keys; ARGV[1] = a token prefix unique to this call, ARGV[2] =
// ttl in ms. Per key: {1, v, u, b} on a hit, {0, lease field} on a miss;
// a miss stamps the lease and, on a key without a TTL (a new one), sets
// the TTL, so an abandoned lease disappears with its key ({0, ''}: no
// lease, the key already has 64 open ones).
inline constexpr std::string_view kLookupScript = R"lua(
local now = nil
local out = {}
for i, k in ipairs(KEYS) do
  local r = redis.call('HMGET', k, 'v', 'u', 'b')
  if r[1] then
    out[i] = {1, r[1], r[2], r[3]}
  else
    -- At most 64 open leases a key: leases of readers that died stay until
    -- the key expires, and a hot key must not grow without bound. A reader
    -- without a lease reads the shard and does not fill.
    if redis.call('HLEN', k) >= 64 then
      out[i] = {0, ''}
    else
      -- The server's clock is read only on a miss: a hit does not need it
      -- (TIME was a fifth of a hit's time on the server).
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      local f = 'l:' .. ARGV[1] .. ':' .. i
      redis.call('HSET', k, f, string.format('%d', now))
      if redis.call('PTTL', k) < 0 then
        redis.call('PEXPIRE', k, ARGV[2])
      end
      out[i] = {0, f}
    end
  end
end
return out
)lua";

// KEYS = the keys; per key i, ARGV[5i-4 .. 5i] = lease field, version,
// updated_us, body, ttl in ms (version 0: only hand the lease back, the
// record was not found). Per key: 0 = stale (the lease is gone: the
// key was invalidated or evicted since the lookup; or the lease is older
// than the ttl), 1 = stored, 2 = kept (an equal or newer version is
// there). The lease is consumed either way. A stored entry expires at the
// lease's time + ttl: never later than ttl after the read it came from
// began.
inline constexpr std::string_view kFillScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, k in ipairs(KEYS) do
  local a = (i - 1) * 5
  local f = ARGV[a + 1]
  local taken = redis.call('HGET', k, f)
  if not taken then
    out[i] = 0
  elseif ARGV[a + 2] == '0' then
    -- Version 0: the record was not found; the lease is handed back.
    redis.call('HDEL', k, f)
    out[i] = 2
  else
    redis.call('HDEL', k, f)
    local remaining = tonumber(ARGV[a + 5]) - (now - tonumber(taken))
    local floor = redis.call('HGET', k, 'f')
    if remaining <= 0 then
      out[i] = 0
    elseif floor and tonumber(ARGV[a + 2]) < tonumber(floor) then
      -- A write that will have this version or a newer one invalidated
      -- the key before its COMMIT: this row may predate that commit.
      out[i] = 0
    else
      local cur = redis.call('HGET', k, 'v')
      if cur and tonumber(cur) >= tonumber(ARGV[a + 2]) then
        out[i] = 2
      else
        redis.call('HSET', k, 'v', ARGV[a + 2], 'u', ARGV[a + 3], 'b', ARGV[a + 4])
        redis.call('PEXPIRE', k, string.format('%d', remaining))
        out[i] = 1
      end
    end
  end
end
return out
)lua";

// A write's invalidation, sent before its COMMIT (SharedTier::BeginInvalidate).
// KEYS = the keys; ARGV[i] = the version key i has once the write commits;
// ARGV[#KEYS + 1] = ttl in ms. Per key: the entry and every lease go (as a
// DEL), and the key keeps only f = max(its old floor, the new version),
// expiring ttl from now. A reader that misses after this and reads the
// shard before the COMMIT reads the replaced version, and its fill is
// refused by f; one that read before this has lost its lease. f outlives
// every lease taken while it was there (the lease is in the same hash), and
// a lease can fill for at most ttl. The maximum matters: two writers' early
// invalidations can reach the server out of commit order.
inline constexpr std::string_view kInvalidateScript = R"lua(
local n = #KEYS
for i, k in ipairs(KEYS) do
  local f = tonumber(ARGV[i])
  local old = nil  -- (a key of another type, written by something else, just goes)
  if redis.call('TYPE', k)['ok'] == 'hash' then old = redis.call('HGET', k, 'f') end
  if old and tonumber(old) > f then f = tonumber(old) end
  redis.call('DEL', k)
  redis.call('HSET', k, 'f', string.format('%d', f))
  redis.call('PEXPIRE', k, ARGV[n + 1])
end
return n
)lua";

// An invalidation after COMMIT (SharedTier::Invalidate with Floors::kKeep,
// and every replay of a queued one): as DEL — the entry and every lease go
// — but a version floor stays, with the key's remaining expiry. The floor
// may be another writer's: the next writer of the id sends its early
// invalidation once this write's COMMIT let go of the row, and this DEL can
// still reach the server after that script. Deletes use a plain DEL: the
// next writer of a deleted id creates version 1, which no floor protects.
inline constexpr std::string_view kDropKeepFloorScript = R"lua(
for i, k in ipairs(KEYS) do
  local f = nil
  if redis.call('TYPE', k)['ok'] == 'hash' then f = redis.call('HGET', k, 'f') end
  local ttl = redis.call('PTTL', k)
  redis.call('DEL', k)
  if f and ttl > 0 then
    redis.call('HSET', k, 'f', f)
    redis.call('PEXPIRE', k, ttl)
  end
end
return #KEYS
)lua";

}  // namespace libshard::cache
