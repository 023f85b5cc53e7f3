-- Shared by every script: the keys, and the steps that change counts. Each script is this file followed by its own.
-- KEYS[1] is the key prefix: every key starts with it, so a prefix with a hash tag ("{agents}:") keeps all of them in
-- one Redis Cluster slot. ARGV[1..5] are the calling instance's MaxParallelSessions, MaxParallelRuns and
-- MaxConcurrencyPerSource (-1 for none), its owner id and its lease TTL in ms; each script's own arguments follow.
local P = KEYS[1]
local RUNS = P .. 'runs'              -- hash: run key -> {a = agent ('' for none), s = session, src = source, o = owner, g = grant}
local ACTIVE = P .. 'active'          -- hash: agent -> its active runs
local LIMITS = P .. 'limits'          -- hash: agent -> its limit, as the last instance to ask for it set it
local SOURCES = P .. 'sources'        -- hash: source -> its active runs
local SESSIONS = P .. 'sessions'      -- hash: active session -> 'pinned' while an instance pins it, '' when only its runs keep it
local QUEUE = P .. 'queue'            -- sorted set, all scores 0, in serving order: priority key .. sequence .. waiter id
local WAITERS = P .. 'waiters'        -- hash: waiter id -> {a, l = limit, s, r = run id, src, o, m = member, t, p, st, ...}
local OWNERS = P .. 'owners'          -- set: instances that may hold anything; each holds it under its lease key
local SEQUENCE = P .. 'sequence'      -- arrival counter: FIFO within a priority, across every instance
local RUN_WAITERS = P .. 'runwaiters' -- count of queued waiters with a run id (a scan must pass again when one starts)

local maxSessions, maxRuns, perSource = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local OWNER, LEASE_TTL = ARGV[4], ARGV[5]

local function leaseKey(owner) return P .. 'lease:' .. owner end
local function ownerRuns(owner) return P .. 'owner:' .. owner .. ':runs' end
local function ownerWaiters(owner) return P .. 'owner:' .. owner .. ':waiters' end
local function ownerSessions(owner) return P .. 'owner:' .. owner .. ':sessions' end
local function sessionRuns(session) return P .. 'session:' .. session .. ':runs' end
local function sessionPinners(session) return P .. 'session:' .. session .. ':pinners' end
local function agentQueue(agent) return P .. 'agentqueue:' .. agent end

local function number(value) return tonumber(value or 0) or 0 end
local function activeOf(agent) return number(redis.call('HGET', ACTIVE, agent)) end

local function countDown(hash, field)
  if redis.call('HINCRBY', hash, field, -1) <= 0 then redis.call('HDEL', hash, field) end
end

-- An agent with nothing active and nothing queued keeps nothing in Redis, so a million agents used once leave no trace.
local function forgetIfIdle(agent)
  if agent ~= '' and redis.call('HEXISTS', ACTIVE, agent) == 0 and redis.call('EXISTS', agentQueue(agent)) == 0 then
    redis.call('HDEL', LIMITS, agent)
  end
end

-- The first limit a new run would exceed, as the in-process limiter reports them (ConcurrencyErrorCode); nil when all have room.
local function blocker(agent, limit, session, source)
  if activeOf(agent) >= limit then return 0 end
  if source ~= '' and perSource >= 0 and number(redis.call('HGET', SOURCES, source)) >= perSource then return 3 end
  if session ~= '' and maxSessions >= 0 and redis.call('HEXISTS', SESSIONS, session) == 0
      and redis.call('HLEN', SESSIONS) >= maxSessions then
    return 1
  end
  if maxRuns >= 0 and redis.call('HLEN', RUNS) >= maxRuns then return 2 end
  return nil
end

-- The active run a request joins; nil when it needs a new one; or nil and the reason it cannot join the run with its id.
local function findRun(agent, session, runId)
  if runId == '' then return nil end
  local raw = redis.call('HGET', RUNS, 'r:' .. runId)
  if not raw then return nil end
  local run = cjson.decode(raw)
  if run.a ~= agent then
    if run.a == '' then
      return nil, "Run '" .. runId .. "' is active as a run slot with no agent; agent '" .. agent .. "' cannot join it."
    end
    return nil, "Run '" .. runId .. "' is active for agent '" .. run.a .. "'; agent '" .. agent .. "' cannot join it."
  end
  if session ~= '' and run.s ~= session then
    local actual = run.s ~= '' and run.s or '(none)'
    return nil, "Run '" .. runId .. "' is active in session '" .. actual .. "', not '" .. session .. "'."
  end
  return run
end

local function startRun(key, agent, session, source, owner, grant)
  redis.call('HSET', RUNS, key, cjson.encode({a = agent, s = session, src = source, o = owner, g = grant}))
  if agent ~= '' then redis.call('HINCRBY', ACTIVE, agent, 1) end
  if source ~= '' then redis.call('HINCRBY', SOURCES, source, 1) end
  if session ~= '' then
    if redis.call('HEXISTS', SESSIONS, session) == 0 then redis.call('HSET', SESSIONS, session, '') end
    redis.call('SADD', sessionRuns(session), key)
  end
  redis.call('SADD', ownerRuns(owner), key)
end

local function endRun(key)
  local raw = redis.call('HGET', RUNS, key)
  if not raw then return false end
  local run = cjson.decode(raw)
  redis.call('HDEL', RUNS, key)
  if run.a ~= '' then countDown(ACTIVE, run.a) end
  if run.src ~= '' then countDown(SOURCES, run.src) end
  if run.s ~= '' then
    redis.call('SREM', sessionRuns(run.s), key)
    if redis.call('SCARD', sessionRuns(run.s)) == 0 and redis.call('HGET', SESSIONS, run.s) == '' then
      redis.call('HDEL', SESSIONS, run.s)
    end
  end
  redis.call('SREM', ownerRuns(run.o), key)
  forgetIfIdle(run.a)
  return true
end

-- One instance lets go of a session pin; the session stays pinned while another instance pins it too.
local function unpin(session, owner)
  redis.call('SREM', sessionPinners(session), owner)
  redis.call('SREM', ownerSessions(owner), session)
  if redis.call('EXISTS', sessionPinners(session)) == 0 and redis.call('HGET', SESSIONS, session) == 'pinned' then
    if redis.call('SCARD', sessionRuns(session)) == 0 then
      redis.call('HDEL', SESSIONS, session)
    else
      redis.call('HSET', SESSIONS, session, '')
    end
  end
end

-- Takes a waiter out of the serving order; its record stays until its owner claims the outcome.
local function dequeue(waiter)
  redis.call('ZREM', QUEUE, waiter.m)
  redis.call('ZREM', agentQueue(waiter.a), waiter.m)
  if waiter.r ~= '' then redis.call('DECR', RUN_WAITERS) end
  forgetIfIdle(waiter.a)
end

-- Records a waiter's outcome and tells its owner, on the owner's own channel, which waiter to wake.
local function settle(id, waiter)
  redis.call('HSET', WAITERS, id, cjson.encode(waiter))
  redis.call('PUBLISH', P .. 'wake:' .. waiter.o, id)
end

local function waitersWithRunId() return number(redis.call('GET', RUN_WAITERS)) end

-- Serves the queue in order, as the in-process scan does: grants every waiter whose needs all fit, skipping the ones
-- that do not, and passes again when a grant started a run id that a waiter already passed may join.
local function scan()
  local again = redis.call('EXISTS', QUEUE) == 1
  while again do
    again = false
    for _, member in ipairs(redis.call('ZRANGEBYLEX', QUEUE, '-', '+')) do
      if maxRuns >= 0 and redis.call('HLEN', RUNS) >= maxRuns and waitersWithRunId() == 0 then return end
      local id = string.sub(member, 25)
      local waiter = cjson.decode(redis.call('HGET', WAITERS, id))
      local limit = number(redis.call('HGET', LIMITS, waiter.a) or waiter.l)
      if waiter.r ~= '' or activeOf(waiter.a) < limit then
        local run, conflict = findRun(waiter.a, waiter.s, waiter.r)
        if conflict then
          dequeue(waiter)
          waiter.st, waiter.x = 'f', conflict
          settle(id, waiter)
        elseif run then
          dequeue(waiter)
          waiter.st, waiter.k, waiter.g, waiter.j, waiter.rs = 'g', 'r:' .. waiter.r, run.g, 1, run.s
          settle(id, waiter)
        elseif not blocker(waiter.a, limit, waiter.s, waiter.src) then
          local key = waiter.r ~= '' and ('r:' .. waiter.r) or ('a:' .. id)
          startRun(key, waiter.a, waiter.s, waiter.src, waiter.o, id)
          dequeue(waiter)
          waiter.st, waiter.k, waiter.g, waiter.j, waiter.rs = 'g', key, id, 0, waiter.s
          settle(id, waiter)
          again = again or waiter.r ~= ''
        end
      end
    end
    again = again and waitersWithRunId() > 0
  end
end

-- Frees everything an instance held: its runs, its queue places, granted or not, and its session pins.
local function reap(owner)
  for _, key in ipairs(redis.call('SMEMBERS', ownerRuns(owner))) do endRun(key) end
  for _, id in ipairs(redis.call('SMEMBERS', ownerWaiters(owner))) do
    local raw = redis.call('HGET', WAITERS, id)
    if raw then
      local waiter = cjson.decode(raw)
      if waiter.st == 'w' then dequeue(waiter) end
      redis.call('HDEL', WAITERS, id)
    end
  end
  for _, session in ipairs(redis.call('SMEMBERS', ownerSessions(owner))) do unpin(session, owner) end
  redis.call('DEL', ownerRuns(owner), ownerWaiters(owner), ownerSessions(owner))
  redis.call('SREM', OWNERS, owner)
end

-- Reaps every instance whose lease has expired; true when any was, so that the caller scans for the capacity it freed.
local function reapExpired()
  local reaped = false
  for _, owner in ipairs(redis.call('SMEMBERS', OWNERS)) do
    if redis.call('EXISTS', leaseKey(owner)) == 0 then
      reap(owner)
      reaped = true
    end
  end
  return reaped
end

-- Renews the caller's lease before it is given anything to hold. A lease that had lapsed voids whatever was left under
-- it first (its holders learn so from the heartbeat); returns true then, so that the caller scans for what that freed.
local function renewLease()
  if redis.call('PEXPIRE', leaseKey(OWNER), LEASE_TTL) == 1 then return false end
  reap(OWNER)
  redis.call('SET', leaseKey(OWNER), '1', 'PX', LEASE_TTL)
  redis.call('SADD', OWNERS, OWNER)
  return true
end
