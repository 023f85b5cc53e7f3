-- Pins a session slot for the calling instance. ARGV[6]: session.
local session = ARGV[6]
local freed = renewLease()
if reapExpired() or freed then scan() end
local pinnedBy = redis.call('HGET', SESSIONS, session)
if not pinnedBy then
  if maxSessions >= 0 and redis.call('HLEN', SESSIONS) >= maxSessions then return {'refused', 1} end
elseif pinnedBy ~= '' and pinnedBy ~= OWNER then
  redis.call('SREM', ownerSessions(pinnedBy), session)
end
redis.call('HSET', SESSIONS, session, OWNER)
redis.call('SADD', ownerSessions(OWNER), session)
return {'ok'}
