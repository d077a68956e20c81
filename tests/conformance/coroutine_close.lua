-- coroutine.close
local co = coroutine.create(function() coroutine.yield(1) end)
print(coroutine.close(co), coroutine.status(co))
co = coroutine.create(function() coroutine.yield(1) end)
coroutine.resume(co)
print(coroutine.status(co), coroutine.close(co), coroutine.status(co))
print(coroutine.resume(co))
-- closing a dead coroutine that finished normally
co = coroutine.create(function() return 1 end)
coroutine.resume(co)
print(coroutine.close(co))
-- closing a coroutine that died with error returns false + error
co = coroutine.create(function() error("died", 0) end)
coroutine.resume(co)
print(coroutine.close(co))
-- pending to-be-closed variables are closed in order
local log = {}
co = coroutine.create(function()
  local a <close> = setmetatable({}, {__close = function() log[#log + 1] = "a" end})
  local b <close> = setmetatable({}, {__close = function() log[#log + 1] = "b" end})
  coroutine.yield()
end)
coroutine.resume(co)
print(coroutine.close(co), table.concat(log, ","))
-- error in __close during close is returned
co = coroutine.create(function()
  local a <close> = setmetatable({}, {__close = function() error("close failed", 0) end})
  coroutine.yield()
end)
coroutine.resume(co)
print(coroutine.close(co))
-- cannot close running coroutine
print(pcall(coroutine.close, coroutine.running()))
-- cannot close a coroutine in normal state (it resumed the current one)
local outer
outer = coroutine.create(function()
  local inner = coroutine.create(function() return pcall(coroutine.close, outer) end)
  return coroutine.resume(inner)
end)
print(coroutine.resume(outer))
