-- Pins a session slot for the calling instance. ARGV[6]: session.
local session = ARGV[6]
local freed = renewLease()
if reapExpired() or freed then scan() end
if redis.call('HEXISTS', SESSIONS, session) == 0 and maxSessions >= 0 and redis.call('HLEN', SESSIONS) >= maxSessions then
  return {'refused', 1}
end
redis.call('HSET', SESSIONS, session, 'pinned')
redis.call('SADD', sessionPinners(session), OWNER)
redis.call('SADD', ownerSessions(OWNER), session)
return {'ok'}
