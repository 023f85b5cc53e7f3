-- Collects a waiter's outcome once its owner was told of it. ARGV[6]: the waiter id.
local id = ARGV[6]
local raw = redis.call('HGET', WAITERS, id)
if not raw then return {'gone'} end
local waiter = cjson.decode(raw)
if waiter.st == 'w' then return {'waiting'} end
redis.call('HDEL', WAITERS, id)
redis.call('SREM', ownerWaiters(waiter.o), id)
if waiter.st == 'g' then return {'granted', waiter.k, waiter.g, waiter.j, waiter.rs} end
return {'failed', waiter.c or -1, waiter.x or ''}
