-- Ends a run. ARGV[6]: the run key; ARGV[7]: the grant it must still carry, '' for whichever grant it has (release by
-- id). Replies with 1 and the grant it ended, or 0.
local raw = redis.call('HGET', RUNS, ARGV[6])
local released, grant = false, ''
if raw then
  grant = cjson.decode(raw).g
  if ARGV[7] == '' or grant == ARGV[7] then released = endRun(ARGV[6]) end
end
if released and redis.call('EXISTS', QUEUE) == 1 then
  -- Waiters of expired instances must not be granted what this release frees.
  reapExpired()
  scan()
end
return {released and 1 or 0, grant}
