-- Regressions found by running the official Lua test suite against us.
-- __sub with a small integer constant must call __sub, not __add
local mt = {__sub = function(a, b) return "sub " .. tostring(b) end,
            __add = function(a, b) return "add " .. tostring(b) end}
local x = setmetatable({}, mt)
print(x - 3, x - 3.0, x - 1000, x + 3)
-- a goto may not jump past a local that a repeat's until condition sees
print(load("local x = 1 repeat if x then goto cont end local y = 10 ::cont:: until y"))
-- only files skip a first line starting with '#', not load()ed strings
print(load("#=1"))
-- errors in a load reader function make load return nil, message
local ok, f, m = pcall(load, function() error("boom") end)
print(ok, f, m)
-- a coroutine that dies of an error closes its to-be-closed variables
local closed
local co = coroutine.wrap(function()
  local v <close> = setmetatable({}, {__close = function(_, e) closed = e end})
  coroutine.yield()
  error("E", 0)
end)
co()
print(pcall(co))
print("closed with:", closed)
-- sort detects an inconsistent comparator as lua5.4 does
print(pcall(table.sort, {1, 2, 3, 4}, function(a, b) return true end))
-- table functions check that __len gives an integer
local t = setmetatable({}, {__len = function() return 2.5 end})
print(pcall(table.insert, t, 1))
