-- errors inside coroutines
local co = coroutine.create(function(x)
  coroutine.yield(x)
  error("fail at step 2")
end)
print(coroutine.resume(co, "step 1"))
print(coroutine.resume(co))
print(coroutine.status(co))
-- non-string error values
co = coroutine.create(function() error({msg = "tbl"}) end)
local ok, e = coroutine.resume(co)
print(ok, type(e), e.msg)
co = coroutine.create(function() error(nil) end)
print(coroutine.resume(co))
-- runtime error (not via error())
co = coroutine.create(function() local t = nil; return t.field end)
print(coroutine.resume(co))
-- error in nested coroutine propagates only to its resumer
local outer = coroutine.create(function()
  local inner = coroutine.create(function() error("inner problem", 0) end)
  local ok2, e2 = coroutine.resume(inner)
  coroutine.yield("inner said: " .. tostring(ok2) .. " " .. e2)
  return "outer fine"
end)
print(coroutine.resume(outer))
print(coroutine.resume(outer))
-- wrap re-raises with the same value
local w = coroutine.wrap(function() error("wrapped", 0) end)
print(pcall(w))
-- error inside wrap adds position of the error, not of the call
local w2 = coroutine.wrap(function() local x = {} return x.a.b end)
print(pcall(w2))
-- resume passes wrong type
print(pcall(coroutine.resume))
print(pcall(coroutine.create, "not a function"))
-- debug.traceback of a coroutine is a string
co = coroutine.create(function() coroutine.yield() end)
coroutine.resume(co)
print(type(debug.traceback(co)))
