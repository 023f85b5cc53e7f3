-- Grants a slot now, refuses, or queues the request. ARGV[6..]: agent, agent limit, session, run id, source, request
-- id, mode ('try': never queue; 'reject': WhenFull = Reject; 'wait'), queue limit (-1: none), '1' for a zero timeout,
-- priority key, priority, enqueue time (Unix ms). Empty strings stand for absent ids. A grant replies with the run's
-- key, its grant, 1 if the request joined a run already active, and the run's session.
local agent, limit, session, runId, source, id = ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local mode, queueLimit = ARGV[12], tonumber(ARGV[13])

local freed = renewLease()

-- A caller error changes nothing, not even the agent's limit. A run of an expired instance is neither a conflict nor a
-- run to join: reap, and look again.
local run, conflict = findRun(agent, session, runId)
if (conflict or (run and redis.call('EXISTS', leaseKey(run.o)) == 0)) and reapExpired() then
  freed = true
  run, conflict = findRun(agent, session, runId)
end
if conflict then
  if freed then scan() end
  return {'conflict', conflict}
end

local previous = number(redis.call('HGET', LIMITS, agent))
if limit ~= previous then redis.call('HSET', LIMITS, agent, limit) end
if freed or (limit > previous and redis.call('EXISTS', agentQueue(agent)) == 1) then scan() end

-- After a scan: it may have started this run id, for this request to join or for someone it cannot join.
local function joinOrConflict()
  local started, taken = findRun(agent, session, runId)
  if taken then
    forgetIfIdle(agent)
    return {'conflict', taken}
  end
  if started then return {'granted', 'r:' .. runId, started.g, 1, started.s} end
end

local answer = joinOrConflict()
if answer then return answer end

local blocked = blocker(agent, limit, session, source)
-- Expired instances are reaped by every heartbeat; a request that would have to wait or be refused reaps them now, so
-- that it is not held back by slots that nobody holds any more.
if blocked and reapExpired() then
  scan()
  answer = joinOrConflict()
  if answer then return answer end
  blocked = blocker(agent, limit, session, source)
end
if not blocked then
  local key = runId ~= '' and ('r:' .. runId) or ('a:' .. id)
  startRun(key, agent, session, source, OWNER, id)
  -- A waiter may be waiting to join this run id, or must learn that it is now taken.
  if runId ~= '' and waitersWithRunId() > 0 then scan() end
  return {'granted', key, id, 0, session}
end

if mode ~= 'wait' then
  forgetIfIdle(agent)
  return {'refused', blocked}
end
if queueLimit >= 0 and redis.call('ZCARD', agentQueue(agent)) >= queueLimit then
  forgetIfIdle(agent)
  return {'refused', 4}
end
if ARGV[14] == '1' then
  forgetIfIdle(agent)
  return {'refused', 5}
end

local member = ARGV[15] .. string.format('%016x', redis.call('INCR', SEQUENCE)) .. id
redis.call('ZADD', QUEUE, 0, member)
redis.call('ZADD', agentQueue(agent), 0, member)
if runId ~= '' then redis.call('INCR', RUN_WAITERS) end
redis.call('HSET', WAITERS, id, cjson.encode({
  a = agent, l = limit, s = session, r = runId, src = source, o = OWNER, m = member, p = ARGV[16], t = ARGV[17], st = 'w'}))
redis.call('SADD', ownerWaiters(OWNER), id)
return {'queued', redis.call('ZRANK', agentQueue(agent), member) + 1}
