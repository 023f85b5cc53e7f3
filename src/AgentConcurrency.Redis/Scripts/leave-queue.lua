-- A waiter gives up (cancelled, timed out, its limiter disposed, its callback threw) and leaves the queue. ARGV[6]: the
-- waiter id; ARGV[7]: '1' to keep a grant made to it meanwhile (a timeout loses to a decided grant, as in process),
-- else the grant goes back unless it joined someone else's run. An outcome already decided is replied as claim.lua does.
local id, keepGrant = ARGV[6], ARGV[7] == '1'
local freed = reapExpired()
local raw = redis.call('HGET', WAITERS, id)
local reply = {'gone'}
if raw then
  local waiter = cjson.decode(raw)
  if waiter.st == 'w' then
    dequeue(waiter)
    reply = {'left'}
  elseif waiter.st == 'g' and keepGrant then
    reply = {'granted', waiter.k, waiter.g, waiter.j, waiter.rs}
  elseif waiter.st == 'g' then
    local run = redis.call('HGET', RUNS, waiter.k)
    if waiter.j == 0 and run and cjson.decode(run).g == waiter.g then freed = endRun(waiter.k) or freed end
    reply = {'returned'}
  else
    reply = {'failed', waiter.c or -1, waiter.x or ''}
  end
  redis.call('HDEL', WAITERS, id)
  redis.call('SREM', ownerWaiters(waiter.o), id)
end
if freed then scan() end
return reply
