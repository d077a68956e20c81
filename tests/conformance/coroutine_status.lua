-- coroutine.status in every state
local co
co = coroutine.create(function()
  print("inside:", coroutine.status(co))
  local other = coroutine.create(function() print("outer seen from inner:", coroutine.status(co)) end)
  coroutine.resume(other)
  coroutine.yield()
end)
print(coroutine.status(co))
coroutine.resume(co)
print(coroutine.status(co))
coroutine.resume(co)
print(coroutine.status(co))
print(coroutine.resume(co))
local errco = coroutine.create(function() error("x") end)
print(coroutine.resume(errco))
print(coroutine.status(errco))
print(coroutine.resume(errco))
-- status of a wrap'ed coroutine cannot be queried, but running inside works
local w = coroutine.wrap(function() local c = coroutine.running() print(coroutine.status(c)) end)
w()
print(pcall(coroutine.status, nil))
-- resuming a running coroutine
local self_co
self_co = coroutine.create(function() return coroutine.resume(self_co) end)
print(coroutine.resume(self_co))
-- resuming a normal coroutine
local outer
outer = coroutine.create(function()
  local inner = coroutine.create(function() return coroutine.resume(outer) end)
  return coroutine.resume(inner)
end)
print(coroutine.resume(outer))
