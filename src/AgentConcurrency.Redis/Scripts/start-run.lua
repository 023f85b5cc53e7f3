-- Takes a run slot with no agent for the calling instance. ARGV[6..]: session, run id, grant.
local session, runId = ARGV[6], ARGV[7]
local freed = renewLease()
if reapExpired() or freed then scan() end
local raw = redis.call('HGET', RUNS, 'r:' .. runId)
if raw then
  local run = cjson.decode(raw)
  if run.s ~= session then
    local actual = run.s ~= '' and run.s or '(none)'
    return {'conflict', "Run '" .. runId .. "' is active in session '" .. actual .. "', not '" .. session .. "'."}
  end
  return {'ok'}
end
if maxSessions >= 0 and redis.call('HEXISTS', SESSIONS, session) == 0 and redis.call('HLEN', SESSIONS) >= maxSessions then
  return {'refused', 1}
end
if maxRuns >= 0 and redis.call('HLEN', RUNS) >= maxRuns then return {'refused', 2} end
startRun('r:' .. runId, '', session, '', OWNER, ARGV[8])
-- A waiter asking for this run id for an agent can no longer get it: tell it now.
if waitersWithRunId() > 0 then scan() end
return {'ok'}
