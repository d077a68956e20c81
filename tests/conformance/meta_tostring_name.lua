-- __tostring and __name
local T = setmetatable({}, {__tostring = function(t) return "T-object" end})
print(T, tostring(T))
print(string.format("%s|%s", T, "x"))
local bad = setmetatable({}, {__tostring = function() return 42 end})
print(pcall(tostring, bad))
local named = setmetatable({}, {__name = "MyType"})
print((tostring(named):gsub("0x%x+", "ADDR"):gsub(": [%x]+$", ": ADDR")))
print(tostring(named):match("^MyType: ") ~= nil)
-- __name used in error messages for bad arguments
print(pcall(string.rep, named))
-- __name must be a string to be used
local notstr = setmetatable({}, {__name = 123})
print(tostring(notstr):match("^table: ") ~= nil)
-- tostring of primitive values
print(tostring(nil), tostring(true), tostring(false), tostring(12), tostring(1.5), tostring("s"))
-- print uses __tostring
local list = setmetatable({1, 2, 3}, {__tostring = function(t) return "{" .. table.concat(t, ",") .. "}" end})
print(list, #list)
-- __tostring error propagates
local err = setmetatable({}, {__tostring = function() error("no string for you", 0) end})
print(pcall(tostring, err))
-- type of values with metatables is unchanged
print(type(list), type(named))
