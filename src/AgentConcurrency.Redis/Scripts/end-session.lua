-- Fails the session's queued requests (SessionReleased), then ends its runs and its pins. ARGV[6]: session. Replies
-- with the key and grant of every run it ended.
local session = ARGV[6]
reapExpired()
-- Its waiters go first, so that none of them is granted the capacity the session's runs give back.
for _, member in ipairs(redis.call('ZRANGEBYLEX', QUEUE, '-', '+')) do
  local id = string.sub(member, 25)
  local waiter = cjson.decode(redis.call('HGET', WAITERS, id))
  if waiter.s == session then
    dequeue(waiter)
    waiter.st, waiter.c = 'f', 6
    settle(id, waiter)
  end
end
local ended = {}
if redis.call('HEXISTS', SESSIONS, session) == 1 then
  for _, key in ipairs(redis.call('SMEMBERS', sessionRuns(session))) do
    local raw = redis.call('HGET', RUNS, key)
    if raw then
      table.insert(ended, key)
      table.insert(ended, cjson.decode(raw).g)
      endRun(key)
    end
  end
  for _, owner in ipairs(redis.call('SMEMBERS', sessionPinners(session))) do
    redis.call('SREM', ownerSessions(owner), session)
  end
  redis.call('HDEL', SESSIONS, session)
  redis.call('DEL', sessionRuns(session), sessionPinners(session))
end
scan()
return ended
