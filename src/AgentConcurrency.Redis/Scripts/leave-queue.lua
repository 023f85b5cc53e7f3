-- A waiter gives up (cancelled, timed out, its limiter disposed): it leaves the queue, and a grant made to it in the
-- meantime goes back unless it joined someone else's run. ARGV[6]: the waiter id.
local id = ARGV[6]
local freed = reapExpired()
local raw = redis.call('HGET', WAITERS, id)
if not raw then
  if freed then scan() end
  return {'gone'}
end
local waiter = cjson.decode(raw)
local outcome = 'left'
if waiter.st == 'w' then
  dequeue(waiter)
elseif waiter.st == 'g' then
  outcome = 'returned'
  local run = redis.call('HGET', RUNS, waiter.k)
  if waiter.j == 0 and run and cjson.decode(run).g == waiter.g then freed = endRun(waiter.k) or freed end
else
  outcome = 'failed'
end
redis.call('HDEL', WAITERS, id)
redis.call('SREM', ownerWaiters(waiter.o), id)
if freed then scan() end
return {outcome}
