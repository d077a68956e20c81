-- coroutine.create/resume/yield: passing values in and out
local co = coroutine.create(function(a, b)
  print("start", a, b)
  local c = coroutine.yield(a + b)
  print("got", c)
  local d, e = coroutine.yield(c * 2)
  print("got", d, e)
  return "end", a + b + c + d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.resume(co))
print(coroutine.resume(co))
-- yield with no values / many values
local co2 = coroutine.create(function(...)
  coroutine.yield()
  coroutine.yield(...)
  return select("#", coroutine.yield(nil, nil))
end)
print(coroutine.resume(co2, "x", "y", "z"))
print(coroutine.resume(co2))
print(coroutine.resume(co2))
print(coroutine.resume(co2, 1, 2, 3, 4))
-- yield from nested function calls
local function deep(n) if n == 0 then coroutine.yield("deep") return "back" end return deep(n - 1) end
local co3 = coroutine.create(function() return deep(100) end)
print(coroutine.resume(co3))
print(coroutine.resume(co3))
print(type(co3), coroutine.status(co3))
-- resuming a non-coroutine
print(pcall(coroutine.resume, 42))
-- yield outside coroutine
print(pcall(coroutine.yield, 1))
-- many coroutines alive at once
local cos = {}
for i = 1, 100 do
  cos[i] = coroutine.create(function() local s = 0 while true do s = s + i; coroutine.yield(s) end end)
end
local total = 0
for round = 1, 3 do for i = 1, 100 do local _, v = coroutine.resume(cos[i]); total = total + v end end
print(total)
