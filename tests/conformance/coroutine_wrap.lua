-- coroutine.wrap
local gen = coroutine.wrap(function(n)
  for i = 1, n do coroutine.yield(i) end
  return "finished"
end)
print(gen(3), gen(), gen(), gen())
print(pcall(gen))
-- errors propagate through wrap with position info
local bad = coroutine.wrap(function() error("inside wrap") end)
print(pcall(bad))
local bad2 = coroutine.wrap(function() error({code = 5}) end)
local ok, e = pcall(bad2)
print(ok, type(e), e.code)
-- wrap as iterator in for loop
local function chars(s)
  return coroutine.wrap(function() for i = 1, #s do coroutine.yield(i, s:sub(i, i)) end end)
end
for i, c in chars("abc") do io.write(i, c, " ") end print()
-- values passed in through wrap calls
local acc = coroutine.wrap(function(first)
  local sum = first
  while true do
    local v = coroutine.yield(sum)
    if v == nil then break end
    sum = sum + v
  end
  return "total " .. sum
end)
print(acc(1), acc(2), acc(3), acc(nil))
print(type(coroutine.wrap(print)))
print(pcall(coroutine.wrap, 1))
