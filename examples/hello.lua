-- A first Understudy program: closures, coroutines, string formatting.
local function counter()
  local n = 0
  return function()
    n = n + 1
    return n
  end
end

local next_id = counter()
local squares = coroutine.wrap(function()
  for i = 1, 5 do
    coroutine.yield(i * i)
  end
end)

for _ = 1, 5 do
  print(string.format("item %d: square %d", next_id(), squares()))
end
print(("Hello from %s!"):format(_VERSION))

-- Tasks and channels: a producer and a consumer, Go-style.
local ch = chan.new(2)
local producer = task.spawn(function()
  for i = 1, 3 do
    task.sleep(0.01)
    ch:send("tick " .. i)
  end
  ch:close()
end)
for _ = 1, 4 do
  local msg, ok = ch:recv()
  print(ok and msg or "channel closed")
end
task.join(producer)
