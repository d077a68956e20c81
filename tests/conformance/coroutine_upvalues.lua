-- coroutines share upvalues and globals with the code that created them
local shared = 0
local co = coroutine.wrap(function()
  for i = 1, 3 do shared = shared + i; coroutine.yield(shared) end
end)
print(co(), shared, co(), shared, co(), shared)
-- a closure created inside a coroutine keeps working after the coroutine dies
local getter
local co2 = coroutine.create(function()
  local inner = "created in coroutine"
  getter = function() return inner end
  coroutine.yield()
  inner = "modified before death"
end)
coroutine.resume(co2)
print(getter())
coroutine.resume(co2)
print(coroutine.status(co2), getter())
-- two coroutines communicating through a shared table
local queue = {}
local producer = coroutine.wrap(function()
  for i = 1, 5 do queue[#queue + 1] = i * i; coroutine.yield() end
end)
local consumer = coroutine.wrap(function()
  local total = 0
  while true do
    while #queue > 0 do total = total + table.remove(queue, 1) end
    coroutine.yield(total)
  end
end)
local last
for _ = 1, 5 do producer(); last = consumer() end
print(last)
-- coroutine-local state via upvalues of the coroutine body
local function counter_co(start)
  return coroutine.wrap(function() local n = start while true do n = n + 1; coroutine.yield(n) end end)
end
local c1, c2 = counter_co(0), counter_co(100)
print(c1(), c2(), c1(), c2(), c1())
