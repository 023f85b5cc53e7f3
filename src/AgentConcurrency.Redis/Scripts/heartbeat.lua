-- Renews the calling instance's lease, reaps expired ones, and reports what changed for it. ARGV[6..]: pairs of run key
-- and grant that the instance holds. Replies: 1 if its lease had lapsed (everything left under it was reaped), the
-- pairs no longer held, the ids of its waiters with an outcome to claim, and the ids of those still waiting.
local lapsed = renewLease()
if reapExpired() or lapsed then scan() end
local gone = {}
for i = 6, #ARGV, 2 do
  local raw = redis.call('HGET', RUNS, ARGV[i])
  if not raw or cjson.decode(raw).g ~= ARGV[i + 1] then
    table.insert(gone, ARGV[i])
    table.insert(gone, ARGV[i + 1])
  end
end
local settled, waiting = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', ownerWaiters(OWNER))) do
  local raw = redis.call('HGET', WAITERS, id)
  if raw and cjson.decode(raw).st == 'w' then table.insert(waiting, id) else table.insert(settled, id) end
end
return {lapsed and 1 or 0, gone, settled, waiting}
