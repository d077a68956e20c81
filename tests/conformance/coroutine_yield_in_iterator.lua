-- yields from inside generic-for iterator functions
local function yielding_iter(n)
  local i = 0
  return function()
    i = i + 1
    if i > n then return nil end
    coroutine.yield("iter " .. i)
    return i
  end
end
local co = coroutine.wrap(function()
  local sum = 0
  for v in yielding_iter(3) do sum = sum + v end
  return "sum " .. sum
end)
for _ = 1, 4 do print(co()) end
-- producer/consumer through an iterator built from a coroutine
local function producer(list)
  return coroutine.wrap(function() for _, v in ipairs(list) do coroutine.yield(v) end end)
end
local function filter(src, pred)
  return coroutine.wrap(function() for v in src do if pred(v) then coroutine.yield(v) end end end)
end
local out = {}
for v in filter(producer({1, 2, 3, 4, 5, 6, 7, 8}), function(x) return x % 2 == 0 end) do out[#out + 1] = v end
print(table.concat(out, ","))
-- yield inside pairs loop body with a __pairs metamethod
local proxy = setmetatable({}, {__pairs = function(t)
  local keys = {"a", "b", "c"}
  local i = 0
  return function() i = i + 1; if keys[i] then return keys[i], i end end, t, nil
end})
local co2 = coroutine.wrap(function()
  for k, v in pairs(proxy) do coroutine.yield(k .. v) end
  return "end"
end)
print(co2(), co2(), co2(), co2())
