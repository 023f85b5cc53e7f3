-- Reads every count and the queue in serving order. Returns: active sessions, active runs, the agents' limits and
-- active counts (flat field/value lists), and each waiter's record in serving order.
if reapExpired() then scan() end
local waiters = {}
for _, member in ipairs(redis.call('ZRANGEBYLEX', QUEUE, '-', '+')) do
  table.insert(waiters, redis.call('HGET', WAITERS, string.sub(member, 25)))
end
return {redis.call('HLEN', SESSIONS), redis.call('HLEN', RUNS), redis.call('HGETALL', LIMITS), redis.call('HGETALL', ACTIVE), waiters}
