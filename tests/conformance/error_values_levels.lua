-- error with various values and levels
print(pcall(error, "plain"))
print(pcall(error, "no position", 0))
print(pcall(error))
print(pcall(error, nil))
print(pcall(error, 42))
local ok, e = pcall(error, {code = 7})
print(ok, type(e), e.code)
local function lvl1() error("at level 1", 1) end
local function lvl2() error("at level 2", 2) end
local function caller() lvl2() end
print(pcall(lvl1))
print(pcall(caller))
local function wrapper() local x = lvl1() return x end
print(pcall(wrapper))
-- level 2 pointing to the main chunk caller line
print(pcall(function()
  lvl2()
end))
-- error objects are not modified when not strings
print(select(2, pcall(error, 3.5)), select(2, pcall(error, true)))
-- numbers as messages get position prepended? (they are converted since they are strings-ish? no: only strings)
print(pcall(function() error(12) end))
print(pcall(function() error("str") end))
-- rethrowing keeps the message
print(pcall(function()
  local ok2, msg = pcall(error, "inner")
  error(msg, 0)
end))
-- error with table having __tostring
local E = setmetatable({}, {__tostring = function() return "custom error" end})
local ok3, e3 = pcall(error, E)
print(ok3, tostring(e3), e3 == E)
-- runtime errors carry position
print(pcall(function() local t = nil; return t.x end))
-- error in nested pcall does not escape
print(pcall(pcall, error, "x"))
