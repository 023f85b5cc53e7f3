-- Fails the session's queued requests (SessionReleased), then ends its runs and its pin. ARGV[6]: session.
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
local pinnedBy = redis.call('HGET', SESSIONS, session)
if pinnedBy then
  for _, key in ipairs(redis.call('SMEMBERS', sessionRuns(session))) do endRun(key) end
  if pinnedBy ~= '' then redis.call('SREM', ownerSessions(pinnedBy), session) end
  redis.call('HDEL', SESSIONS, session)
  redis.call('DEL', sessionRuns(session))
end
scan()
return {1}
