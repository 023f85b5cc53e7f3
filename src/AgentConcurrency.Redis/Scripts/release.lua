-- Ends a run. ARGV[6]: the run key; ARGV[7]: the grant it must still carry, '' for whichever grant it has (release by id).
local freed = reapExpired()
local raw = redis.call('HGET', RUNS, ARGV[6])
local released = false
if raw and (ARGV[7] == '' or cjson.decode(raw).g == ARGV[7]) then
  released = endRun(ARGV[6])
end
if released or freed then scan() end
return {released and 1 or 0}
