package grouproom

import "github.com/redis/go-redis/v9"

// liveLua, at the head of the scripts that read a group, drops the tickets of KEYS[1]
// never used before cutoff (unix ms) and returns how many are left: 0 when the room is no
// group, and a group left without tickets is forgotten (as Table.liveLocked).
const liveLua = `
local function live(cutoff)
  if redis.call('HEXISTS', KEYS[1], 'g') == 0 then return 0 end
  local f = redis.call('HGETALL', KEYS[1])
  local n = 0
  for i = 1, #f, 2 do
    local k = f[i]
    if string.sub(k, 1, 2) == 't:' then
      if redis.call('HEXISTS', KEYS[1], 'u:' .. string.sub(k, 3)) == 0 and tonumber(f[i + 1]) < cutoff then
        redis.call('HDEL', KEYS[1], k)
      else
        n = n + 1
      end
    end
  end
  if n == 0 then redis.call('DEL', KEYS[1]) end
  return n
end
`

// joinedScript: ARGV id, capable, initiator, record TTL (ms). See Table.Joined.
var joinedScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'g') == 1 then return 0 end
if ARGV[3] == '1' or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 0
`)

// capablesScript: ARGV cutoff. {count, SFU instance} of a group, {0, capable ids...} of a
// room that is none.
var capablesScript = redis.NewScript(liveLua + `
local n = live(tonumber(ARGV[1]))
if n > 0 then return {tostring(n), redis.call('HGET', KEYS[1], 'g')} end
local out = {'0'}
for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(k, 1, 2) == 'c:' then table.insert(out, string.sub(k, 3)) end
end
return out
`)

// admitScript: ARGV cutoff, now (ms), size, new id, the instance a new group's SFU goes
// to, then the capable clients the room table still holds. {'ok', moved ids...}, {'full'},
// {'notcapable'} or {'taken'} (the new id is a participant's already: nothing changed).
var admitScript = redis.NewScript(liveLua + `
local n = live(tonumber(ARGV[1]))
local moved = {}
if n == 0 then
  local keep = {}
  for i = 6, #ARGV do keep[ARGV[i]] = true end
  local caps = {}
  for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(k, 1, 2) == 'c:' then
      local id = string.sub(k, 3)
      if keep[id] then table.insert(caps, id) else redis.call('HDEL', KEYS[1], k) end
    end
  end
  if #caps < 2 then return {'notcapable'} end
  for _, id in ipairs(caps) do
    if id == ARGV[4] then return {'taken'} end
  end
  redis.call('HSET', KEYS[1], 'g', ARGV[5])
  redis.call('PERSIST', KEYS[1])
  for _, id in ipairs(caps) do
    redis.call('HSET', KEYS[1], 't:' .. id, ARGV[2])
    table.insert(moved, id)
  end
  n = #caps
end
if n >= tonumber(ARGV[3]) then return {'full'} end
if redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[4]) == 1 then return {'taken'} end
redis.call('HSET', KEYS[1], 't:' .. ARGV[4], ARGV[2])
local out = {'ok'}
for _, id in ipairs(moved) do table.insert(out, id) end
return out
`)

// placedScript: ARGV cutoff, id. The group's SFU instance when id holds a ticket, nil
// otherwise.
var placedScript = redis.NewScript(liveLua + `
if live(tonumber(ARGV[1])) == 0 or redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[2]) == 0 then return false end
return redis.call('HGET', KEYS[1], 'g')
`)

// openScript: placedScript, and the ticket counts one open socket more.
var openScript = redis.NewScript(liveLua + `
if live(tonumber(ARGV[1])) == 0 or redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[2]) == 0 then return false end
redis.call('HINCRBY', KEYS[1], 's:' .. ARGV[2], 1)
redis.call('HSET', KEYS[1], 'u:' .. ARGV[2], '1')
return redis.call('HGET', KEYS[1], 'g')
`)

// emptiedScript drops the record of a room that is no group (its room table emptied).
var emptiedScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'g') == 1 then return 0 end
return redis.call('DEL', KEYS[1])
`)

// moveScript: ARGV dead instance, new instance, now (ms). Moves a group whose SFU was on the
// dead instance to the new one, unless another instance moved it first; returns the
// group's SFU instance after the call (false when the room is no group). The sockets died
// with the instance: the open counts go, and each ticket is issued anew, unused, so a
// participant that does not come back within the ticket's life lapses.
var moveScript = redis.NewScript(`
local g = redis.call('HGET', KEYS[1], 'g')
if g ~= ARGV[1] then return g end
redis.call('HSET', KEYS[1], 'g', ARGV[2])
for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
  local p = string.sub(k, 1, 2)
  if p == 's:' or p == 'u:' then
    redis.call('HDEL', KEYS[1], k)
  elseif p == 't:' then
    redis.call('HSET', KEYS[1], k, ARGV[3])
  end
end
return ARGV[2]
`)

// closeScript: ARGV id, the instance whose SFU served the socket. One open socket of id
// fewer; its last drops its ticket, and the group's last ticket the record. A socket of an
// SFU the group has moved off counts for nothing: moveScript dropped the old counts, and a
// drained instance's sockets end after its participants' new ones opened.
var closeScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'g') ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 's:' .. ARGV[1], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[1], 't:' .. ARGV[1], 's:' .. ARGV[1], 'u:' .. ARGV[1])
for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(k, 1, 2) == 't:' then return 0 end
end
redis.call('DEL', KEYS[1])
return 1
`)
