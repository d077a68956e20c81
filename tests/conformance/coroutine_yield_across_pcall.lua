-- yields can cross pcall/xpcall boundaries in 5.4
local co = coroutine.create(function()
  local ok, v = pcall(function()
    local x = coroutine.yield("from inside pcall")
    return x * 2
  end)
  coroutine.yield("pcall returned", ok, v)
  local ok2, e = pcall(function()
    coroutine.yield("before error")
    error("after yield", 0)
  end)
  coroutine.yield("caught", ok2, e)
  local ok3, r = xpcall(function()
    coroutine.yield("in xpcall")
    error("boom", 0)
  end, function(m) return "handled " .. m end)
  return ok3, r
end)
print(coroutine.resume(co))
print(coroutine.resume(co, 21))
print(coroutine.resume(co))
print(coroutine.resume(co))
print(coroutine.resume(co))
print(coroutine.resume(co))
print(coroutine.status(co))
-- nested pcalls with yields at several levels
local gen = coroutine.wrap(function()
  for i = 1, 3 do
    pcall(function()
      pcall(function() coroutine.yield(i) end)
      coroutine.yield(i * 10)
    end)
  end
  return "end"
end)
local out = {}
for _ = 1, 7 do out[#out + 1] = tostring(gen()) end
print(table.concat(out, " "))
-- yielding inside a message handler is not allowed
local co2 = coroutine.create(function()
  return xpcall(function() error("e") end, function(m) return select("#", coroutine.yield("handler")) end)
end)
print(coroutine.resume(co2))
