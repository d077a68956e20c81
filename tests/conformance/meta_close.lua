-- __close: order, error argument, on return/break/goto/error
local log = {}
local function res(name)
  return setmetatable({}, {__close = function(self, err)
    local e = type(err) == "table" and "table" or tostring(err)
    log[#log + 1] = name .. (err and ("(" .. e .. ")") or "")
  end})
end
local function flush() local s = table.concat(log, " "); log = {}; return s end
do
  local a <close> = res("a")
  do
    local b <close> = res("b")
  end
  local c <close> = res("c")
end
print(flush())
-- closed on return, values already computed
local function f()
  local r <close> = res("r")
  log[#log + 1] = "returning"
  return "ret"
end
print(f(), flush())
-- closed on goto out of block
do
  local i = 0
  ::again::
  do
    local g <close> = res("g" .. i)
    i = i + 1
    if i < 3 then goto again end
  end
end
print(flush())
-- error passes the error object; close errors chain
print(pcall(function()
  local x <close> = res("x")
  local y <close> = res("y")
  error({code = 1})
end) == false, flush())
print(pcall(function()
  local x <close> = res("x")
  local y <close> = setmetatable({}, {__close = function(_, e) log[#log + 1] = "y saw " .. tostring(e); error("y failed", 0) end})
  error("first", 0)
end))
print(flush())
-- generic for closes its 4th value when loop ends normally or by break
local function iter_with_close(n)
  local i = 0
  return function() i = i + 1; if i <= n then return i end end, nil, nil, res("iter")
end
for _ in iter_with_close(2) do end
print(flush())
for i in iter_with_close(5) do if i == 1 then break end end
print(flush())
-- __close metamethod is looked up at close time? (must be present at declaration)
print(pcall(function() local z <close> = setmetatable({}, {}) end))
-- coroutine.close closes pending variables
local co = coroutine.create(function()
  local k <close> = res("k")
  coroutine.yield(1)
end)
coroutine.resume(co)
print(coroutine.close(co), flush(), coroutine.status(co))
