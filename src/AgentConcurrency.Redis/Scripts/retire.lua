-- The calling instance shuts down: everything it held goes back now rather than when its lease expires.
reap(OWNER)
redis.call('DEL', leaseKey(OWNER))
reapExpired()
scan()
return {1}
